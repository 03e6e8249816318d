import type { Kysely } from 'kysely'
import type { BuildSpec, InstanceRecord } from '../../shared/cell-link/build-spec.js'
import { recordFromSpec } from '../../shared/cell-link/build-spec.js'
import type { Cell0Store } from '../cells/cell0.js'
import { CELL0_PATH } from '../cells/cell0.js'
import type { ComputeTables } from '../db/compute-schema.js'

/** Rolls back a cell0 record whose conditional write missed (another decision won). */
const NOT_KEPT = new Error('another decision on this build committed first')

/** The instance record cell0 keeps for a build no cell could take: ERROR, with the fault. */
export function cell0Record(spec: BuildSpec, message: string, now: number): InstanceRecord {
  return {
    ...recordFromSpec(spec),
    cellPath: CELL0_PATH,
    vmState: 'error',
    taskState: null,
    fault: { code: 500, message: message.slice(0, 255), created: now, details: message },
    version: 1,
    updatedAt: now,
  }
}

/**
 * Records a build in cell0 in ERROR ("No valid host was found. <reasons>"). `spec` is given for an
 * instance that had been placed (its build request is gone); otherwise the pending build request
 * is the source, and taking it away is the compare-and-swap against a concurrent delete, and,
 * with `attempt`, against a newer attempt of the build (a leaf handed it back up and it is being
 * placed again: the failure of the older attempt says nothing about it). cell0 is written first:
 * a crash in between leaves the build request, which is re-driven at start-up. Returns `false`
 * when nothing was recorded (deleted meanwhile, or taken over).
 */
export async function recordInCell0(
  d: { readonly db: Kysely<ComputeTables>; readonly cell0: Cell0Store },
  args: { readonly uuid: string; readonly reasons: readonly string[]; readonly spec?: BuildSpec; readonly attempt?: number },
): Promise<boolean> {
  const { uuid } = args
  let spec = args.spec
  let pending = ''
  if (spec === undefined) {
    const br = await d.db.selectFrom('build_requests').select('spec').where('instance_uuid', '=', uuid).executeTakeFirst()
    if (br === undefined) return false
    pending = br.spec
    spec = JSON.parse(br.spec) as BuildSpec
    if (args.attempt !== undefined && args.attempt !== (spec.retry?.attempt ?? 0)) return false
  } else {
    const m = await d.db.selectFrom('instance_mappings').select('queued_for_delete').where('instance_uuid', '=', uuid).executeTakeFirst()
    const idx = await d.db.selectFrom('instance_index').select('vm_state').where('uuid', '=', uuid).executeTakeFirst()
    if (m === undefined || m.queued_for_delete === 1 || idx?.vm_state === 'deleted') return false
  }
  const now = Date.now()
  const message = `No valid host was found. ${args.reasons.length === 0 ? 'There are no cells to schedule to.' : args.reasons.join('; ')}`
  await d.cell0.put(cell0Record(spec, message, now))
  const placed = args.spec !== undefined
  const kept = await d.db
    .transaction()
    .execute(async (tx) => {
      // The mapping row first, then the build request, as every decision on a build's fate (see
      // the dispatcher's `#placed`): a pending build goes to cell0 only while it has no cell and
      // no delete, and only with the build request this attempt read (a newer attempt rewrites
      // its spec). A miss rolls back: another decision committed first.
      const mapped = await tx
        .updateTable('instance_mappings')
        .set({ cell_path: CELL0_PATH })
        .where('instance_uuid', '=', uuid)
        .$if(!placed, (q) => q.where('cell_path', 'is', null).where('queued_for_delete', '=', 0))
        .executeTakeFirst()
      if (!placed && Number(mapped.numUpdatedRows) !== 1) throw NOT_KEPT
      const del = await tx.deleteFrom('build_requests').where('instance_uuid', '=', uuid).$if(!placed, (q) => q.where('spec', '=', pending)).executeTakeFirst()
      if (!placed && Number(del.numDeletedRows) !== 1) throw NOT_KEPT
      await tx
        .updateTable('instance_index')
        .set({ cell_path: CELL0_PATH, vm_state: 'error', task_state: null, host: null, updated_at: now })
        .where('uuid', '=', uuid)
        .execute()
      return true
    })
    .catch((err: unknown) => {
      if (err === NOT_KEPT) return false
      throw err
    })
  if (!kept) await d.cell0.delete(uuid)
  return kept
}
