import type { InstanceRecord } from '../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../shared/context.js'
import { InvalidError, NotImplementedError } from '../../shared/errors.js'
import { CELL0_PATH } from '../cells/cell0.js'
import { inFlightSaga } from '../compute/cross-cell/saga-store.js'
import { setCellDisabled } from './cell-changes.js'
import type { AdminDeps } from './deps.js'

/** The reason a drained cell is disabled with. */
export const DRAIN_REASON = 'draining: every instance is moving to other cells'

/** Where a drain stands: `moved` of `total` instances are out; `failed` ones stay, with why. */
export interface DrainProgress {
  readonly cell: string
  /** When the drain (its last start) began, ms since the epoch: progress counts moves since then. */
  readonly started_at: number
  readonly total: number
  readonly moved: number
  readonly moving: number
  /** Instances still mapped to the cell. */
  readonly remaining: number
  readonly failed: ReadonlyArray<{ readonly instance: string; readonly reason: string }>
}

/**
 * Drains a leaf cell (`cellctl cell drain`): the cell is disabled for new builds first, then every
 * instance mapped to it is moved to another cell by a cross-cell cold migration, confirmed as soon
 * as it is ready (an operator's move: whatever FEDERATION_CROSS_CELL_RESIZE says). An instance that
 * cannot move (its state, no other cell with room) is reported with the reason and stays. Asking
 * again starts what is not moving yet; the moves already under way go on.
 */
export async function drainCell(d: AdminDeps, ctx: RequestContext, path: string): Promise<DrainProgress> {
  const x = d.crossCell
  if (x === undefined) throw new NotImplementedError('cross-cell moves are not available in this API cell')
  if (path === CELL0_PATH) throw new InvalidError('cell0 holds no running instances: there is nothing to drain.')
  const startedAt = Date.now()
  await setCellDisabled(d, ctx, path, true, DRAIN_REASON)
  const uuids = await mappedTo(d, path)
  const failed: { instance: string; reason: string }[] = []
  const records = new Map<string, InstanceRecord>()
  if (uuids.length > 0) {
    const raw = await d.tree.clientFor(path).getInstances(ctx, { cellPath: path, uuids })
    for (const r of raw as InstanceRecord[]) records.set(r.uuid, r)
  }
  for (const uuid of uuids) {
    if ((await inFlightSaga(d.db, uuid)) !== undefined) continue
    const r = records.get(uuid)
    if (r === undefined) {
      failed.push({ instance: uuid, reason: 'the cell did not return its record' })
      continue
    }
    try {
      await x.moves.start(ctx, { uuid, kind: 'migration', sourceCell: path, flavor: r.flavor, oldFlavor: r.flavor, targets: x.targets(r.flavor, [path]), autoConfirm: true })
    } catch (err) {
      failed.push({ instance: uuid, reason: err instanceof Error ? err.message : String(err) })
    }
  }
  d.log.info({ requestId: ctx.requestId, cell: path, instances: uuids.length, refused: failed.length }, 'draining a cell')
  const p = await drainProgress(d, path, startedAt)
  return { ...p, total: uuids.length + p.moved, failed: [...failed, ...p.failed.filter((f) => !failed.some((g) => g.instance === f.instance))] }
}

/** Progress of the moves out of `path` started since `since` (ms). */
export async function drainProgress(d: AdminDeps, path: string, since: number): Promise<DrainProgress> {
  const rows = await d.db
    .selectFrom('cross_cell_migrations')
    .select(['instance_uuid', 'status', 'message'])
    .where('source_cell', '=', path)
    .where('created_at', '>=', since)
    .orderBy('created_at')
    .execute()
  const remaining = (await mappedTo(d, path)).length
  const moved = new Set(rows.filter((r) => r.status === 'confirmed').map((r) => r.instance_uuid)).size
  const moving = rows.filter((r) => !['confirmed', 'error', 'reverted'].includes(r.status)).length
  const failed = rows.filter((r) => r.status === 'error').map((r) => ({ instance: r.instance_uuid, reason: r.message ?? 'the move failed' }))
  return { cell: path, started_at: since, total: remaining + moved, moved, moving, remaining, failed }
}

/** Instances the API maps to `path` (not being deleted). */
async function mappedTo(d: AdminDeps, path: string): Promise<string[]> {
  const rows = await d.db
    .selectFrom('instance_mappings')
    .innerJoin('instance_index', 'instance_index.uuid', 'instance_mappings.instance_uuid')
    .select('instance_mappings.instance_uuid')
    .where('instance_mappings.cell_path', '=', path)
    .where('instance_mappings.queued_for_delete', '=', 0)
    .where('instance_index.vm_state', '!=', 'deleted')
    .execute()
  return rows.map((r) => r.instance_uuid)
}
