import type { Selectable } from 'kysely'
import type { FlavorSnapshot, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { ConflictError } from '../../../shared/errors.js'
import { adoptMoveClaim, releaseResources } from '../../db/claims.js'
import type { InstancesTable } from '../../db/schema.js'
import type { ConductorDeps } from '../deps.js'
import { finishAction, recordAction } from './actions-log.js'
import type { MigrationRow } from './migrations-store.js'
import { IN_PROGRESS_STATUSES, latestMigration, setMigration } from './migrations-store.js'
import { stateConflict } from './move.js'

type Row = Selectable<InstancesTable>

/** The finished resize or migration of a `resized` instance, or a 409. */
async function finishedMove(d: ConductorDeps, row: Row, action: string): Promise<MigrationRow> {
  if (row.vm_state !== 'resized' || row.task_state !== null) throw stateConflict(action, row)
  const m = await latestMigration(d, row.uuid, ['finished'])
  if (m === undefined) throw new ConflictError(`Instance ${row.uuid} has no finished migration to ${action}`)
  return m
}

/**
 * Confirms a resize or cold migration: the source's guest is removed and its claim given back;
 * the target's claim becomes the instance's. The instance returns to the state it had before the
 * move. Answered once done. A source host that does not answer keeps its guest until its compute
 * restarts, which then destroys it (the instance is no longer its own and the move is over).
 * Idempotent: the migration moves `finished` -> `confirming` once.
 */
export async function confirmMove(d: ConductorDeps, ctx: RequestContext, row: Row): Promise<InstanceRecord> {
  const m = await finishedMove(d, row, 'confirmResize')
  await d.db.transaction().execute(async (tx) => {
    if (!(await setMigration(tx, m.uuid, { status: 'confirming' }, 'finished'))) throw new ConflictError(`Migration ${m.uuid} changed concurrently`)
    await recordAction(tx, ctx, { uuid: row.uuid, action: 'confirmResize', projectId: row.project_id, userId: row.user_id, event: 'compute_confirm_resize', host: m.source_host })
  })
  return finishConfirm(d, ctx, m)
}

/** The part of a confirm after the migration is `confirming` (idempotent: it may run again after an interruption). */
export async function finishConfirm(d: ConductorDeps, ctx: RequestContext, m: MigrationRow): Promise<InstanceRecord> {
  const row = { uuid: m.instance_uuid }
  if (m.source_host !== m.dest_host) {
    await d.compute.moveStep(ctx, m.source_host, 'move_cleanup', { uuid: row.uuid }).catch((err: unknown) => {
      d.log.warn({ requestId: ctx.requestId, instance: row.uuid, host: m.source_host, err: String(err) }, 'confirm: the source did not remove its guest; it will at its next start')
    })
  }
  const done = await d.db.transaction().execute(async (tx) => {
    await adoptMoveClaim(tx, m.uuid, row.uuid)
    await setMigration(tx, m.uuid, { status: 'confirmed' })
    const r = await d.store.change(tx, row.uuid, { vm_state: m.previous_vm_state === 'stopped' ? 'stopped' : 'active' })
    await finishAction(tx, row.uuid, 'Success')
    return r
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
  return d.store.toRecord(done ?? (await d.store.get(row.uuid)))
}

/**
 * Reverts a resize or cold migration: the instance takes back its old flavor at once (so that the
 * API's quota usage follows) with task_state `resize_reverting`; then, in the background, the
 * target's guest is removed and its claim given back, the source's guest runs again, and the
 * instance is back on the source as it was. A failure leaves the instance in ERROR.
 */
export async function revertMove(d: ConductorDeps, ctx: RequestContext, row: Row): Promise<InstanceRecord> {
  const m = await finishedMove(d, row, 'revertResize')
  const old = JSON.parse(m.old_flavor) as FlavorSnapshot
  const reverting = await d.db.transaction().execute(async (tx) => {
    if (!(await setMigration(tx, m.uuid, { status: 'reverting' }, 'finished'))) throw new ConflictError(`Migration ${m.uuid} changed concurrently`)
    const r = await d.store.change(tx, row.uuid, { task_state: 'resize_reverting', flavor: m.old_flavor, flavor_id: old.id }, { version: row.version })
    if (r === undefined) throw new ConflictError(`Cannot 'revertResize' instance ${row.uuid}: it changed concurrently`)
    await recordAction(tx, ctx, { uuid: row.uuid, action: 'revertResize', projectId: row.project_id, userId: row.user_id, event: 'compute_revert_resize', host: m.dest_host })
    return r
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void finishRevert(d, ctx, m, reverting).catch((err: unknown) => d.log.error({ requestId: ctx.requestId, instance: row.uuid, err: String(err) }, 'revert failed to finish'))
  return d.store.toRecord(reverting)
}

/** The background part of a revert (idempotent: it may run again after an interruption). */
export async function finishRevert(d: ConductorDeps, ctx: RequestContext, m: MigrationRow, row: Row): Promise<void> {
  const sameHost = m.source_host === m.dest_host
  const powerOn = m.previous_vm_state === 'active'
  let outcome: { ok: true; powerState: number } | { ok: false; message: string }
  try {
    if (!sameHost && m.dest_host !== null) await d.compute.moveStep(ctx, m.dest_host, 'move_cleanup', { uuid: row.uuid })
    const instance = { ...d.store.toRecord(row), host: m.source_host, node: m.source_node }
    const guest = await d.compute.moveStep(ctx, m.source_host, 'move_finish_revert', { instance, powerOn, recreate: sameHost })
    outcome = { ok: true, powerState: guest.powerState }
  } catch (err) {
    outcome = { ok: false, message: err instanceof Error ? err.message : String(err) }
  }
  const now = Date.now()
  await d.db.transaction().execute(async (tx) => {
    await releaseResources(tx, m.uuid)
    await setMigration(tx, m.uuid, { status: outcome.ok ? 'reverted' : 'error' })
    await d.store.change(
      tx,
      row.uuid,
      outcome.ok
        ? { vm_state: m.previous_vm_state, task_state: null, host: m.source_host, node: m.source_node, power_state: outcome.powerState }
        : { vm_state: 'error', task_state: null, host: m.source_host, node: m.source_node, fault: JSON.stringify({ code: 500, message: `Revert failed: ${outcome.message}`, created: now }) },
      { taskState: 'resize_reverting' },
    )
    await finishAction(tx, row.uuid, outcome.ok ? 'Success' : 'Error', outcome.ok ? undefined : outcome.message.slice(0, 255))
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}

/**
 * A deleted instance ends its unfinished moves: their target claims are given back, and a source
 * guest kept for a revert is removed (best effort; the source's compute removes it at its next
 * start otherwise). Called in the delete's transaction for the claims, after it for the guests.
 */
export async function abandonMoves(d: ConductorDeps, ctx: RequestContext, uuid: string): Promise<void> {
  const open = await d.db.selectFrom('migrations').selectAll().where('instance_uuid', '=', uuid).where('status', 'in', [...IN_PROGRESS_STATUSES]).execute()
  if (open.length === 0) return
  await d.db.transaction().execute(async (tx) => {
    for (const m of open) {
      await releaseResources(tx, m.uuid)
      await setMigration(tx, m.uuid, { status: 'error' })
    }
  })
  for (const m of open) {
    if (m.migration_type !== 'evacuation' && m.dest_host !== null && m.source_host !== m.dest_host) {
      const row = await d.db.selectFrom('instances').select('host').where('uuid', '=', uuid).executeTakeFirst()
      const other = row?.host === m.source_host ? m.dest_host : m.source_host
      await d.compute.moveStep(ctx, other, 'move_cleanup', { uuid }).catch(() => undefined)
    }
  }
}
