/**
 * What a parent cell knows about each child when it picks one for a build (cells v1's `CellState`,
 * rebuilt from the capacity reports that flow upward), and what it is asked. Used by the global
 * scheduler in the API cell and by every intermediate cell, hence under `shared/`.
 *
 * Units: memory in MB, disk in GB, CPU in vCPUs. Every figure covers the child's whole subtree, with
 * allocation ratios and reserves applied, counting only hosts whose compute service is up and enabled.
 */

/** The separator of cell paths (`api!region-one!dc1`), as in Nova cells v1. */
export const CELL_PATH_SEPARATOR = '!'

/** How many instances of one flavor a subtree can still take. */
export interface FlavorFit {
  /** In the whole subtree: the sum over hosts of how many fit on each (RAM, vCPU and disk together). */
  readonly count: number
  /** On the single best host. */
  readonly maxPerHost: number
}

/** A kind of hypervisor present in the subtree (every host supports VM mode `hvm`). */
export interface CellHostKind {
  readonly cpuArch: string
  readonly hypervisorType: string
  /** Distinct versions among those hosts, in Nova's integer form (4.2.0 = 4002000). */
  readonly hypervisorVersions: readonly number[]
}

/** One child cell as a scheduling candidate. */
export interface CellCandidate {
  /** Full path, e.g. `api!region-one!dc1`. */
  readonly path: string
  /** Last path segment, e.g. `dc1`. */
  readonly name: string
  /** Disabled by an operator (`cellctl disable`): takes no new builds. */
  readonly disabled: boolean
  /** Its last report is younger than the configured down interval. */
  readonly up: boolean
  /** Operator preference (cells v1 `weight_offset`): higher is preferred. */
  readonly weightOffset: number
  /** Age of the last capacity report, in milliseconds, when the decision is made. */
  readonly reportAgeMs: number
  /** Zones with at least one up host. */
  readonly availabilityZones: readonly string[]
  readonly hostKinds: readonly CellHostKind[]
  /** By flavor id, for the flavors the child knew when it reported. */
  readonly flavorFits: Readonly<Record<string, FlavorFit>>
  /** The same per availability zone, when the report breaks it down. */
  readonly flavorFitsByZone?: Readonly<Record<string, Readonly<Record<string, FlavorFit>>>>
  /** Totals over the subtree. */
  readonly freeRamMb: number
  readonly freeVcpus: number
  readonly freeDiskGb: number
  /**
   * Per resource, the most free on any single host (not necessarily the same host for each): the
   * fall-back for a flavor the report does not know, e.g. one created after the report was sent.
   */
  readonly largestHostFree: { readonly memoryMb: number; readonly vcpus: number; readonly diskGb: number }
  readonly hostsUp: number
}

/** One build as a cell scheduler sees it. */
export interface CellRequest {
  readonly flavor: {
    readonly id: string
    readonly memoryMb: number
    readonly vcpus: number
    /** Root + ephemeral + swap rounded up, as `requestedDiskGb` computes it. */
    readonly diskGb: number
  }
  readonly availabilityZone?: string
  readonly imageProperties: Readonly<Record<string, string>>
  /** Scheduler hints that concern cells (`target_cell`, `different_cell`): full cell paths. */
  readonly hints: { readonly targetCell?: string; readonly differentCell?: readonly string[] }
  /** The requester holds the admin role (cell hints are admin-only, as in cells v1). */
  readonly isAdmin: boolean
  /** Child paths that already answered NACK for this build. */
  readonly triedCells: readonly string[]
  /** The server group the instance joins, with where its other members run. Absent: no group. */
  readonly group?: CellGroupRequest
}

/** A build's server group as a cell scheduler sees it. */
export interface CellGroupRequest {
  readonly policy: 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity'
  /** Anti-affinity: members allowed per host (`max_server_per_host`, at least 1). */
  readonly maxServerPerHost: number
  /** The cell path of each other member, one entry per member (a cell may appear many times). */
  readonly memberCells: readonly string[]
}

/** How many of the group's other members run in `path`'s subtree. */
export function membersWithin(group: Readonly<CellGroupRequest>, path: string): number {
  let n = 0
  for (const m of group.memberCells) if (isSameOrBelow(m, path)) n += 1
  return n
}

/** Whether `path` is `ancestor` itself or lies below it. */
export function isSameOrBelow(path: string, ancestor: string): boolean {
  return path === ancestor || (path.length > ancestor.length && path.startsWith(ancestor) && path[ancestor.length] === CELL_PATH_SEPARATOR)
}

/**
 * How a cell stands for the requested flavor: the reported fit (per zone when the request names a
 * zone the report breaks down), or `undefined` when the report does not know the flavor.
 */
export function reportedFit(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): FlavorFit | undefined {
  const zone = request.availabilityZone
  const byZone = zone === undefined ? undefined : cell.flavorFitsByZone?.[zone]
  const fits = byZone ?? cell.flavorFits
  return Object.hasOwn(fits, request.flavor.id) ? fits[request.flavor.id] : undefined
}

/**
 * For a flavor the report does not know: could some host take one (judged, optimistically, from
 * the per-resource maxima), and if so roughly how many fit in the subtree (from the totals).
 */
export function estimatedFit(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): FlavorFit {
  const f = request.flavor
  const big = cell.largestHostFree
  if (cell.hostsUp <= 0 || big.memoryMb < f.memoryMb || big.vcpus < f.vcpus || big.diskGb < f.diskGb) {
    return { count: 0, maxPerHost: 0 }
  }
  const per = (free: number, need: number): number => (need > 0 ? Math.floor(free / need) : Infinity)
  const count = Math.min(per(cell.freeRamMb, f.memoryMb), per(cell.freeVcpus, f.vcpus), per(cell.freeDiskGb, f.diskGb))
  const maxPerHost = Math.min(per(big.memoryMb, f.memoryMb), per(big.vcpus, f.vcpus), per(big.diskGb, f.diskGb))
  // A flavor asking for nothing fits "infinitely": count it as one per host.
  return {
    count: Number.isFinite(count) ? Math.max(1, count) : cell.hostsUp,
    maxPerHost: Number.isFinite(maxPerHost) ? Math.max(1, maxPerHost) : 1,
  }
}
