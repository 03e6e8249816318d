import type { Transaction } from 'kysely'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import type { InstanceEvent } from '../../shared/cell-link/types.js'
import type { ComputeTables } from '../db/compute-schema.js'
import { CELL0_PATH } from './cell0.js'

/**
 * Takes back a build a leaf handed up the tree (an event with `payload.reschedule`: no host of
 * that leaf could spawn it), in the transaction that applies the leaf's events: the build request
 * is written again with the retry state (the cells tried, the faults, the version the next leaf
 * numbers from), the instance mapping loses its cell and the index shows BUILD/scheduling again.
 * The caller dispatches it after the commit; a crash before that is covered by the start-up
 * re-drive of build requests without a cell, so an accepted build is never lost.
 *
 * Returns `retaken` when the build must be dispatched again; otherwise why the event changes
 * nothing: a replayed (or older) event, or an instance nobody wants any more (deleted meanwhile,
 * or already recorded in cell0).
 */
export async function takeBackBuild(tx: Transaction<ComputeTables>, ev: InstanceEvent): Promise<'retaken' | 'replayed' | 'unwanted'> {
  const handed = ev.payload.reschedule
  if (handed === undefined) return 'replayed'
  const uuid = ev.instanceUuid
  const index = await tx.selectFrom('instance_index').select(['version', 'vm_state']).where('uuid', '=', uuid).executeTakeFirst()
  if (index !== undefined && index.version >= ev.version) return 'replayed'
  const mapping = await tx.selectFrom('instance_mappings').selectAll().where('instance_uuid', '=', uuid).executeTakeFirst()
  const now = Date.now()
  if (mapping === undefined || mapping.queued_for_delete === 1 || mapping.cell_path === CELL0_PATH || index?.vm_state === 'deleted') {
    // Nobody wants it any more: remember the version only, so that a replay changes nothing.
    await tx.updateTable('instance_index').set({ version: ev.version }).where('uuid', '=', uuid).where('version', '<', ev.version).execute()
    return 'unwanted'
  }
  const spec: BuildSpec = {
    ...handed.spec,
    retry: {
      attempt: (handed.spec.retry?.attempt ?? 0) + 1,
      triedCells: handed.triedCells,
      faults: handed.faults,
      versionBase: ev.version,
    },
  }
  // The mapping row first, conditionally (as every decision on a build's fate, see the
  // dispatcher's `#placed`): the reads above may be from an older snapshot, and meanwhile the
  // build may have gone to cell0, been deleted, or been placed in another cell. Then the hand-back
  // is stale: the newer decision stands.
  const claimed = await tx
    .updateTable('instance_mappings')
    .set({ cell_path: null })
    .where('instance_uuid', '=', uuid)
    .where('queued_for_delete', '=', 0)
    .where((eb) => eb.or([eb('cell_path', 'is', null), eb('cell_path', '=', ev.cellPath)]))
    .executeTakeFirst()
  if (Number(claimed.numUpdatedRows) !== 1) return 'unwanted'
  // The ACK of the failed attempt may not have been recorded yet: then its build request is still
  // there, and the dispatcher tells the attempts apart by `retry.attempt`.
  const upd = await tx.updateTable('build_requests').set({ spec: JSON.stringify(spec) }).where('instance_uuid', '=', uuid).executeTakeFirst()
  if (Number(upd.numUpdatedRows) === 0) {
    await tx
      .insertInto('build_requests')
      .values({ instance_uuid: uuid, project_id: spec.projectId, spec: JSON.stringify(spec), region: mapping.region, created_at: now })
      .execute()
  }
  await tx
    .updateTable('instance_index')
    .set({ vm_state: 'building', task_state: 'scheduling', power_state: 0, host: null, cell_path: null, version: ev.version, updated_at: now })
    .where('uuid', '=', uuid)
    .execute()
  return 'retaken'
}
