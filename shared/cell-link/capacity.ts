import type { CellCapacity, FlavorFit, FlavorShape } from './types.js'

/** Free resources of one host with ratios and reserves applied. */
export interface HostFree {
  readonly memoryMb: number
  readonly vcpus: number
  readonly diskGb: number
}

/** How many instances of `flavor` fit on a host with `free` resources (RAM, vCPU and disk together). */
export function fitsOnHost(free: HostFree, flavor: FlavorShape): number {
  const byRam = flavor.memoryMb > 0 ? Math.floor(free.memoryMb / flavor.memoryMb) : Number.MAX_SAFE_INTEGER
  const byCpu = flavor.vcpus > 0 ? Math.floor(free.vcpus / flavor.vcpus) : Number.MAX_SAFE_INTEGER
  const byDisk = flavor.diskGb > 0 ? Math.floor(free.diskGb / flavor.diskGb) : Number.MAX_SAFE_INTEGER
  return Math.max(0, Math.min(byRam, byCpu, byDisk))
}

/** Accumulates fit counts host by host. */
export function addFits(acc: Record<string, FlavorFit>, free: HostFree, flavors: readonly FlavorShape[]): void {
  for (const f of flavors) {
    const n = fitsOnHost(free, f)
    const prev = acc[f.id] ?? { count: 0, maxPerHost: 0 }
    acc[f.id] = { count: prev.count + n, maxPerHost: Math.max(prev.maxPerHost, n) }
  }
}

/**
 * The aggregate of a subtree: sums of the cells that are up and enabled (a down or disabled child
 * adds nothing a parent could schedule on), union of zones and capabilities, and the best single
 * host per flavor.
 */
export function aggregate(path: string, parts: readonly CellCapacity[], now: number, disabled: boolean): CellCapacity {
  const fits: Record<string, FlavorFit> = {}
  const zones = new Set<string>()
  const hv = new Set<string>()
  const archs = new Set<string>()
  let hostsUp = 0
  let hostsTotal = 0
  let instances = 0
  let ramFree = 0
  let ramTotal = 0
  let cpuFree = 0
  let cpuTotal = 0
  let diskFree = 0
  let diskTotal = 0
  for (const p of parts) {
    hostsTotal += p.hostsTotal
    instances += p.instances
    ramTotal += p.ramTotalMb
    cpuTotal += p.vcpusTotal
    diskTotal += p.diskTotalGb
    if (!p.up || p.disabled) continue
    hostsUp += p.hostsUp
    ramFree += p.ramFreeMb
    cpuFree += p.vcpusFree
    diskFree += p.diskFreeGb
    p.availabilityZones.forEach((z) => zones.add(z))
    p.hypervisorTypes.forEach((t) => hv.add(t))
    p.cpuArchs.forEach((a) => archs.add(a))
    for (const [id, f] of Object.entries(p.flavorFits)) {
      const prev = fits[id] ?? { count: 0, maxPerHost: 0 }
      fits[id] = { count: prev.count + f.count, maxPerHost: Math.max(prev.maxPerHost, f.maxPerHost) }
    }
  }
  return {
    path,
    up: true,
    disabled,
    hostsUp,
    hostsTotal,
    instances,
    ramFreeMb: ramFree,
    ramTotalMb: ramTotal,
    vcpusFree: cpuFree,
    vcpusTotal: cpuTotal,
    diskFreeGb: diskFree,
    diskTotalGb: diskTotal,
    availabilityZones: [...zones].sort(),
    hypervisorTypes: [...hv].sort(),
    cpuArchs: [...archs].sort(),
    flavorFits: fits,
    generatedAtMs: now,
    aggregate: true,
  }
}
