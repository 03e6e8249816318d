import type { Kysely } from 'kysely'
import type { FlavorSnapshot } from '../../../shared/cell-link/build-spec.js'
import type { CellCapacity } from '../../../shared/cell-link/types.js'
import type { CellBuildRequest, CellRanking } from '../../../shared/scheduling/cell-ranking.js'
import { CELL0_PATH } from '../../cells/cell0.js'
import type { ComputeTables } from '../../db/compute-schema.js'
import type { CrossCellRule } from '../../../shared/config/federation.js'
import type { TargetRanker } from './saga.js'

/** Who may move across cells on a fallback (see shared/config/federation.ts). */
export type { CrossCellRule } from '../../../shared/config/federation.js'

/** Whether `rule` lets this caller's move fall back to another cell. */
export const crossCellAllowed = (rule: CrossCellRule, isAdmin: boolean): boolean => rule === 'any' || (rule === 'admin' && isAdmin)

/** The cell of a compute host (host mappings), or undefined for a host the API does not know. */
export async function cellOfHost(db: Kysely<ComputeTables>, host: string): Promise<string | undefined> {
  const row = await db.selectFrom('host_mappings').select('cell_path').where('host', '=', host).executeTakeFirst()
  return row?.cell_path
}

/**
 * The global scheduler's choice of target cells for a cross-cell move: every leaf cell (a cell
 * with hosts and no reporting child) but the excluded ones, through the same cell filters and
 * weighers as a build, best first.
 */
export function targetRanker(reports: () => readonly CellCapacity[], rank: (c: readonly CellCapacity[], r: CellBuildRequest) => CellRanking): TargetRanker {
  return (flavor: FlavorSnapshot, exclude: readonly string[]) => {
    const all = reports()
    const leaves = new Map<string, CellCapacity>()
    for (const c of all) {
      if (c.path === CELL0_PATH || exclude.includes(c.path) || c.hostsTotal === 0) continue
      if (all.some((o) => o.path.startsWith(`${c.path}!`))) continue
      if (!leaves.has(c.path)) leaves.set(c.path, c)
    }
    const req: CellBuildRequest = {
      flavorId: flavor.id,
      memoryMb: flavor.memoryMb,
      vcpus: flavor.vcpus,
      diskGb: flavor.rootGb + flavor.ephemeralGb + Math.ceil(flavor.swapMb / 1024),
      availabilityZone: null,
      triedCells: [...exclude],
      imageProperties: {},
      hints: {},
      isAdmin: true,
    }
    return rank([...leaves.values()], req).ranked.map((c) => c.path)
  }
}
