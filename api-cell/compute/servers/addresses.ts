import type { NetworkInfo } from '../../../shared/network/network-info.js'
import type { ComputeDeps } from '../deps.js'

/** One address of Nova's `addresses` (with the `OS-EXT-IPS` and `OS-EXT-IPS-MAC` attributes). */
export interface ServerAddress {
  readonly version: 4 | 6
  readonly addr: string
  readonly 'OS-EXT-IPS:type': 'fixed' | 'floating'
  readonly 'OS-EXT-IPS-MAC:mac_addr': string
}

/** Nova's `addresses`: by network name, the addresses of each interface in order. */
export type ServerAddresses = Readonly<Record<string, readonly ServerAddress[]>>

/** A server's interfaces as Nova shows them. */
export function addressesOf(info: NetworkInfo): Record<string, ServerAddress[]> {
  const out: Record<string, ServerAddress[]> = {}
  for (const port of info) {
    const list = out[port.networkName] ?? []
    for (const ip of port.fixedIps) list.push({ version: ip.version, addr: ip.ipAddress, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port.macAddress })
    out[port.networkName] = list
  }
  return out
}

/**
 * Nova's basic form of `addresses` (`version` and `addr` only): what `/servers/{id}/ips` answers,
 * and update and rebuild before 2.75 (Nova's `extend_address=False`), whose response schemas
 * allow no other key.
 */
export function basicAddresses(a: ServerAddresses): Record<string, Array<{ version: 4 | 6; addr: string }>> {
  return Object.fromEntries(Object.entries(a).map(([net, list]) => [net, list.map((x) => ({ version: x.version, addr: x.addr }))]))
}

/** The `addresses` of many servers with one call to the network service (empty without one). */
export async function addressesFor(d: ComputeDeps, uuids: readonly string[]): Promise<Map<string, Record<string, ServerAddress[]>>> {
  const out = new Map<string, Record<string, ServerAddress[]>>()
  if (d.network === undefined || uuids.length === 0) return out
  for (const [uuid, info] of await d.network.interfacesOf(uuids)) out.set(uuid, addressesOf(info))
  return out
}

/**
 * The security group names of many servers' ports (Nova's server `security_groups`), by uuid;
 * servers without ports, or without the network service, are left out.
 */
export async function securityGroupsFor(d: ComputeDeps, uuids: readonly string[]): Promise<ReadonlyMap<string, readonly string[]>> {
  if (d.network === undefined || uuids.length === 0) return new Map()
  return d.network.securityGroupNamesOf(uuids)
}
