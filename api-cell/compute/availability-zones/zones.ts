import type { ServicedHost } from '../hosts/host-inventory.js'

/** One availability zone with the hosts in it. */
export interface Zone {
  readonly name: string
  /** Nova's rule: a zone is available while at least one of its services is enabled. */
  readonly available: boolean
  /** Every host of the zone, in id order. */
  readonly hosts: readonly ServicedHost[]
}

/**
 * The availability zones of `hosts`, by name. Each leaf cell's hosts report the zone of their cell
 * (deploy/regions), so zones come from the tree rather than from aggregates as in Nova.
 */
export function zonesOf(hosts: readonly ServicedHost[]): Zone[] {
  const byName = new Map<string, ServicedHost[]>()
  for (const h of hosts) {
    const list = byName.get(h.host.availabilityZone) ?? []
    list.push(h)
    byName.set(h.host.availabilityZone, list)
  }
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, list]) => ({ name, available: list.some((h) => !h.host.service.disabled), hosts: list }))
}
