import type { BuildSpec } from '../cell-link/build-spec.js'
import type { CellCapacity } from '../cell-link/types.js'
import { PATH_SEPARATOR } from '../cell-link/types.js'
import type { CellCandidate, CellRequest } from './cell-candidate.js'
import { select } from './pipeline.js'
import type { Filter, Weigher } from './plugin.js'

/** What a parent knows about a build when it picks a child cell. */
export interface CellBuildRequest {
  readonly flavorId: string
  readonly memoryMb: number
  readonly vcpus: number
  readonly diskGb: number
  readonly availabilityZone: string | null
  readonly triedCells: readonly string[]
  readonly imageProperties: Readonly<Record<string, string>>
  readonly hints: Readonly<Record<string, unknown>>
  readonly isAdmin: boolean
  /** The server group of the build (`BuildSpec.group`): policy, rule and members' cells. */
  readonly group?: {
    readonly policy: 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity'
    readonly maxServerPerHost?: number
    readonly members: ReadonlyArray<{ readonly host: string; readonly cellPath: string }>
  }
}

/**
 * What a parent ranks its children on for `spec`, the same at the API cell and at every
 * intermediate cell. Disk is root + ephemeral + swap rounded up to GB, as the leaf claims it.
 */
export function cellBuildRequestOf(spec: BuildSpec, args: { readonly triedCells: readonly string[]; readonly isAdmin: boolean }): CellBuildRequest {
  return {
    flavorId: spec.flavor.id,
    memoryMb: spec.flavor.memoryMb,
    vcpus: spec.flavor.vcpus,
    diskGb: spec.flavor.rootGb + spec.flavor.ephemeralGb + Math.ceil(spec.flavor.swapMb / 1024),
    availabilityZone: spec.availabilityZone,
    triedCells: args.triedCells,
    imageProperties: spec.image.properties,
    hints: spec.schedulerHints,
    isAdmin: args.isAdmin,
    ...(spec.group === undefined ? {} : { group: spec.group }),
  }
}

/** Operator settings of the children (from the cell mappings). */
export interface CellSettings {
  readonly disabled: boolean
  readonly weightOffset: number
}

/** Children worth trying for a build, best first, with why the others were left out. */
export interface CellRanking {
  readonly ranked: readonly CellCapacity[]
  readonly rejected: Readonly<Record<string, string>>
}

/** Builds the ranking function from the cell filters and weighers enabled by name. */
export function createCellRanker(args: {
  readonly filters: readonly Filter<CellCandidate, CellRequest>[]
  readonly weighers: readonly Weigher<CellCandidate, CellRequest>[]
  /** Operator settings of a child (disabled, weight offset), looked up at decision time. */
  readonly settingsOf: (path: string) => CellSettings | undefined
}): (candidates: readonly CellCapacity[], req: CellBuildRequest) => CellRanking {
  return (candidates, req) => {
    const now = Date.now()
    const cands = candidates.map((c) => toCandidate(c, args.settingsOf(c.path), now))
    const request = toRequest(req)
    const decision = select({ candidates: cands, spec: request, filters: args.filters, weighers: args.weighers, explain: true })
    const byPath = new Map(candidates.map((c) => [c.path, c]))
    const rejected: Record<string, string> = {}
    for (const r of decision.rejected) rejected[r.candidate.path] = `${r.filter}: ${r.reason}`
    return {
      ranked: decision.ranked.map((r) => byPath.get(r.candidate.path)).filter((c): c is CellCapacity => c !== undefined),
      rejected,
    }
  }
}

function toCandidate(c: CellCapacity, s: CellSettings | undefined, now: number): CellCandidate {
  const hostKinds = c.cpuArchs.flatMap((cpuArch) => c.hypervisorTypes.map((hypervisorType) => ({ cpuArch, hypervisorType, hypervisorVersions: [] })))
  return {
    path: c.path,
    name: c.path.split(PATH_SEPARATOR).pop() ?? c.path,
    disabled: c.disabled || (s?.disabled ?? false),
    up: c.up,
    weightOffset: s?.weightOffset ?? 0,
    reportAgeMs: c.generatedAtMs === 0 ? Number.MAX_SAFE_INTEGER : Math.max(0, now - c.generatedAtMs),
    availabilityZones: c.availabilityZones,
    hostKinds,
    flavorFits: c.flavorFits,
    freeRamMb: c.ramFreeMb,
    freeVcpus: c.vcpusFree,
    freeDiskGb: c.diskFreeGb,
    largestHostFree: { memoryMb: c.ramFreeMb, vcpus: c.vcpusFree, diskGb: c.diskFreeGb },
    hostsUp: c.hostsUp,
  }
}

/** The cell filters' view of a build request (exported for tests). */
export function toRequest(r: CellBuildRequest): CellRequest {
  const target = r.hints['target_cell']
  const different = r.hints['different_cell']
  return {
    flavor: { id: r.flavorId, memoryMb: r.memoryMb, vcpus: r.vcpus, diskGb: r.diskGb },
    ...(r.availabilityZone === null ? {} : { availabilityZone: r.availabilityZone }),
    imageProperties: r.imageProperties,
    hints: {
      ...(typeof target === 'string' ? { targetCell: target } : {}),
      ...(typeof different === 'string' ? { differentCell: [different] } : Array.isArray(different) ? { differentCell: different.map(String) } : {}),
    },
    isAdmin: r.isAdmin,
    triedCells: r.triedCells,
    ...(r.group === undefined
      ? {}
      : {
          group: {
            policy: r.group.policy,
            maxServerPerHost: Math.max(1, Math.floor(r.group.maxServerPerHost ?? 1)),
            memberCells: r.group.members.map((m) => m.cellPath),
          },
        }),
  }
}
