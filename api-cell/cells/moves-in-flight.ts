import type { Kysely, Transaction } from 'kysely'
import type { InstanceEvent } from '../../shared/cell-link/types.js'
import type { ComputeTables } from '../db/compute-schema.js'

/**
 * The cells each of `uuids` is being moved to by a cross-cell move still in flight (an unshelve
 * into another cell: table `unshelve_moves`), as paths: a region while the build is being placed
 * (the leaf is not known yet), the leaf once it is.
 */
export async function moveTargets(db: Kysely<ComputeTables> | Transaction<ComputeTables>, uuids: readonly string[]): Promise<Map<string, string>> {
  if (uuids.length === 0) return new Map()
  const rows = await db.selectFrom('unshelve_moves').select(['instance_uuid', 'target_cell']).where('instance_uuid', 'in', [...uuids]).execute()
  const out = new Map<string, string>()
  for (const r of rows) if (r.target_cell !== null) out.set(r.instance_uuid, r.target_cell)
  return out
}

/**
 * Whether `ev` comes from the copy a move in flight is building (`targets` from {@link moveTargets}):
 * the new copy's events count as the instance's own while the mapping still names the old cell,
 * and anti-entropy must not take that copy for an orphan. A build handed back up (`reschedule`)
 * never counts: a move is not a build request.
 */
export function fromMoveTarget(ev: InstanceEvent, targets: ReadonlyMap<string, string>): boolean {
  const t = targets.get(ev.instanceUuid)
  if (t === undefined || ev.payload.reschedule !== undefined) return false
  return ev.cellPath === t || ev.cellPath.startsWith(`${t}!`)
}
