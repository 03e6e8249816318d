import type { Transaction } from 'kysely'
import type { ComputeTables } from '../db/compute-schema.js'

/** Where an instance moves: from the cell that owns it to the cell that now holds its copy. */
export interface MappingMove {
  readonly instanceUuid: string
  readonly fromCell: string
  readonly toCell: string
  /** The host of the new copy (the index shows it at once, as a placed build does). */
  readonly host: string | null
}

/** What {@link moveMapping} found. */
export type MappingMoveResult = 'moved' | 'already' | 'deleted' | 'elsewhere'

/**
 * Moves the instance mapping and the index row of one instance from `fromCell` to `toCell`, in the
 * caller's transaction, so that both change together or neither does. A compare-and-swap on the
 * mapping's cell: run twice (a resumed move), the second run finds `already`; a mapping queued for
 * delete, or an index row already deleted, is left alone (`deleted`: the caller removes the new
 * copy instead); a mapping that names a third cell is `elsewhere` and nothing changes.
 *
 * Kept small and on its own so that every cross-cell move (unshelve, cold migration, resize) can
 * share it. Events of the old cell are foreign from the commit on (see event-ownership.ts).
 */
export async function moveMapping(tx: Transaction<ComputeTables>, m: MappingMove): Promise<MappingMoveResult> {
  const mapping = await tx.selectFrom('instance_mappings').select(['cell_path', 'queued_for_delete']).where('instance_uuid', '=', m.instanceUuid).executeTakeFirst()
  if (mapping === undefined || mapping.queued_for_delete === 1) return 'deleted'
  const index = await tx.selectFrom('instance_index').select('vm_state').where('uuid', '=', m.instanceUuid).executeTakeFirst()
  if (index?.vm_state === 'deleted') return 'deleted'
  if (mapping.cell_path === m.toCell) return 'already'
  if (mapping.cell_path !== m.fromCell) return 'elsewhere'
  const res = await tx
    .updateTable('instance_mappings')
    .set({ cell_path: m.toCell })
    .where('instance_uuid', '=', m.instanceUuid)
    .where('cell_path', '=', m.fromCell)
    .executeTakeFirst()
  if (Number(res.numUpdatedRows) === 0) return 'elsewhere'
  const region = m.toCell.split('!')[1] ?? null
  await tx
    .updateTable('instance_index')
    .set({ cell_path: m.toCell, region, ...(m.host === null ? {} : { host: m.host }) })
    .where('uuid', '=', m.instanceUuid)
    .execute()
  return 'moved'
}
