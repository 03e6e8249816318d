/**
 * A simulated federation for the scheduler benchmark, in one process: regions of leaf cells of
 * synthetic compute hosts (the fake driver's kind of host: numbers only), with the capacity
 * reports each parent ranks its children on, and the same cell and host plugins the real
 * schedulers build from the default configuration.
 */
import type { HostState, RequestSpec } from '../child-cell/scheduler/host-state.js'
import { freeDiskGb, freeMemoryMb, freeVcpus, requestedDiskGb } from '../child-cell/scheduler/host-state.js'
import { hostPluginsOf } from '../child-cell/scheduler/plugins.js'
import type { CellCapacity } from '../shared/cell-link/types.js'
import { cellPluginsOf, DEFAULT_SCHEDULER_CONFIG } from '../shared/config/scheduler-config.js'
import type { CellBuildRequest } from '../shared/scheduling/cell-ranking.js'
import { createCellRanker } from '../shared/scheduling/cell-ranking.js'
import { select } from '../shared/scheduling/pipeline.js'
import { syntheticHosts } from './scheduler-bench.js'

/** One leaf cell: its hosts (indexes into the tree's host list) and its capacity report. */
export interface Leaf {
  readonly path: string
  readonly hosts: HostState[]
  capacity: CellCapacity
}

/** One region: an intermediate cell over leaves. */
export interface Region {
  readonly path: string
  readonly leaves: Leaf[]
  capacity: CellCapacity
}

/** The whole simulated tree. */
export interface SyntheticTree {
  readonly regions: Region[]
  readonly leafOfHost: Map<string, Leaf>
  readonly hostCount: number
}

/** Builds `regions` x `leavesPerRegion` leaf cells of `hostsPerLeaf` hosts; reports for `flavor`. */
export function syntheticTree(args: { readonly regions: number; readonly leavesPerRegion: number; readonly hostsPerLeaf: number; readonly flavor: RequestSpec['flavor'] }): SyntheticTree {
  const all = syntheticHosts(args.regions * args.leavesPerRegion * args.hostsPerLeaf)
  const leafOfHost = new Map<string, Leaf>()
  const regions: Region[] = []
  let next = 0
  for (let r = 0; r < args.regions; r++) {
    const path = `api!region-${r}`
    const leaves: Leaf[] = []
    for (let l = 0; l < args.leavesPerRegion; l++) {
      const hosts = all.slice(next, next + args.hostsPerLeaf)
      next += args.hostsPerLeaf
      const leaf: Leaf = { path: `${path}!dc-${l}`, hosts, capacity: report(`${path}!dc-${l}`, hosts, args.flavor) }
      for (const h of hosts) leafOfHost.set(h.host, leaf)
      leaves.push(leaf)
    }
    regions.push({ path, leaves, capacity: aggregate(path, leaves.map((x) => x.capacity)) })
  }
  return { regions, leafOfHost, hostCount: all.length }
}

/** A leaf's capacity report for `flavor`, as its agent computes it (up and enabled hosts only). */
export function report(path: string, hosts: readonly HostState[], flavor: RequestSpec['flavor']): CellCapacity {
  let count = 0
  let maxPerHost = 0
  let ram = 0
  let vcpus = 0
  let disk = 0
  const zones = new Set<string>()
  const disk0 = requestedDiskGb(flavor)
  let up = 0
  for (const h of hosts) {
    if (!h.serviceUp || h.serviceDisabled) continue
    up += 1
    zones.add(h.availabilityZone)
    const fit = Math.max(0, Math.min(Math.floor(freeMemoryMb(h) / flavor.memoryMb), Math.floor(freeVcpus(h) / flavor.vcpus), Math.floor(freeDiskGb(h) / disk0)))
    count += fit
    maxPerHost = Math.max(maxPerHost, fit)
    ram += Math.max(0, freeMemoryMb(h))
    vcpus += Math.max(0, freeVcpus(h))
    disk += Math.max(0, freeDiskGb(h))
  }
  return {
    path,
    up: true,
    disabled: false,
    hostsUp: up,
    hostsTotal: hosts.length,
    instances: 0,
    ramFreeMb: ram,
    ramTotalMb: ram,
    vcpusFree: vcpus,
    vcpusTotal: vcpus,
    diskFreeGb: disk,
    diskTotalGb: disk,
    availabilityZones: [...zones],
    hypervisorTypes: ['QEMU'],
    cpuArchs: ['x86_64', 'aarch64'],
    flavorFits: { [flavor.id]: { count, maxPerHost } },
    generatedAtMs: Date.now(),
    aggregate: false,
  }
}

function aggregate(path: string, parts: readonly CellCapacity[]): CellCapacity {
  const first = parts[0] as CellCapacity
  const id = Object.keys(first.flavorFits)[0] as string
  const sum = (f: (c: CellCapacity) => number): number => parts.reduce((t, c) => t + f(c), 0)
  return {
    ...first,
    path,
    hostsUp: sum((c) => c.hostsUp),
    hostsTotal: sum((c) => c.hostsTotal),
    ramFreeMb: sum((c) => c.ramFreeMb),
    vcpusFree: sum((c) => c.vcpusFree),
    diskFreeGb: sum((c) => c.diskFreeGb),
    availabilityZones: [...new Set(parts.flatMap((c) => c.availabilityZones))],
    flavorFits: { [id]: { count: sum((c) => c.flavorFits[id]?.count ?? 0), maxPerHost: Math.max(...parts.map((c) => c.flavorFits[id]?.maxPerHost ?? 0)) } },
    aggregate: true,
  }
}

/** Accounts a claim of `flavor` on `host` in the in-memory view and the reports above it. */
export function consume(region: Region, leaf: Leaf, claimed: HostState, flavor: RequestSpec['flavor']): void {
  // By node, not by object: concurrent placements replace the entry while a claim is in flight.
  const i = leaf.hosts.findIndex((h) => h.nodeId === claimed.nodeId)
  const host = leaf.hosts[i]
  if (host === undefined) return
  leaf.hosts[i] = {
    ...host,
    memoryMbUsed: host.memoryMbUsed + flavor.memoryMb,
    vcpusUsed: host.vcpusUsed + flavor.vcpus,
    localGbUsed: host.localGbUsed + requestedDiskGb(flavor),
    instances: host.instances + 1,
  }
  refreshReports(region, leaf, flavor)
}

/** Recomputes the capacity reports of `leaf` and `region` from the leaf's host states. */
export function refreshReports(region: Region, leaf: Leaf, flavor: RequestSpec['flavor']): void {
  leaf.capacity = report(leaf.path, leaf.hosts, flavor)
  region.capacity = aggregate(region.path, region.leaves.map((l) => l.capacity))
}

/** One decision down the tree: where a build would go, with the leaf's alternates. */
export interface TreeDecision {
  readonly region: Region
  readonly leaf: Leaf
  readonly ranked: readonly HostState[]
}

/** The tree scheduler as the real cells run it: API ranks regions, a region ranks leaves, a leaf ranks hosts. */
export function treeScheduler(tree: SyntheticTree): (spec: RequestSpec) => TreeDecision | undefined {
  const cellPlugins = cellPluginsOf(DEFAULT_SCHEDULER_CONFIG)
  const hostPlugins = hostPluginsOf(DEFAULT_SCHEDULER_CONFIG)
  const rank = createCellRanker({ ...cellPlugins, settingsOf: () => undefined })
  const regionsByPath = new Map(tree.regions.map((r) => [r.path, r]))
  return (spec) => {
    const req: CellBuildRequest = {
      flavorId: spec.flavor.id,
      memoryMb: spec.flavor.memoryMb,
      vcpus: spec.flavor.vcpus,
      diskGb: requestedDiskGb(spec.flavor),
      availabilityZone: spec.availabilityZone ?? null,
      triedCells: [],
      imageProperties: spec.image.properties,
      hints: spec.schedulerHints,
      isAdmin: false,
      ...(spec.group === undefined
        ? {}
        : { group: { policy: spec.group.policy, members: spec.group.hosts.map((host) => ({ host, cellPath: tree.leafOfHost.get(host)?.path ?? '' })) } }),
    }
    const regions = rank(tree.regions.map((r) => r.capacity), req).ranked
    for (const rc of regions.slice(0, 3)) {
      const region = regionsByPath.get(rc.path) as Region
      const leaves = rank(region.leaves.map((l) => l.capacity), req).ranked
      for (const lc of leaves.slice(0, 3)) {
        const leaf = region.leaves.find((l) => l.path === lc.path) as Leaf
        const { ranked } = select({ candidates: leaf.hosts, spec, ...hostPlugins, subsetSize: 1, limit: 8 })
        if (ranked.length > 0) return { region, leaf, ranked: ranked.map((x) => x.candidate) }
      }
    }
    return undefined
  }
}
