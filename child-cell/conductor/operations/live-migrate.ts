import type { Selectable } from 'kysely'
import type { FlavorSnapshot, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { ForbiddenError, InvalidError } from '../../../shared/errors.js'
import { adoptMoveClaim, releaseResources } from '../../db/claims.js'
import type { InstancesTable } from '../../db/schema.js'
import type { ConductorDeps } from '../deps.js'
import { finishAction } from './actions-log.js'
import type { MigrationRow } from './migrations-store.js'
import { findMigration, setMigration } from './migrations-store.js'
import type { MoveArgs } from './move.js'
import { begin, claimTarget, excludedHosts, migrationUuidOf, stateConflict } from './move.js'

type Row = Selectable<InstancesTable>

/**
 * Live-migrates an instance to another host of this cell (Nova's `os-migrateLive`): the target is
 * claimed under the migration's uuid like any move, then the guest is defined and started on the
 * target from the source's definition, the instance and the claims switch to the target in one
 * transaction, and only then is the guest undefined on the source. A failure before the switch
 * leaves the guest running on the source, the target's claim and any guest it started removed.
 * Idempotent by migration uuid. No valid host is 400, or (`asyncPrechecks`, 2.34 on) a migration
 * in `error` after the request succeeded, as Nova does.
 */
export async function startLiveMigration(d: ConductorDeps, ctx: RequestContext, row: Row, args: MoveArgs, isAdmin: boolean): Promise<InstanceRecord> {
  const migrationUuid = migrationUuidOf(args)
  if ((await findMigration(d, migrationUuid)) !== undefined) return d.store.toRecord(await d.store.get(row.uuid))
  if (!isAdmin) throw new ForbiddenError("Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.")
  if (!['active', 'paused'].includes(row.vm_state) || row.task_state !== null || row.host === null) throw stateConflict('os-migrateLive', row)
  const flavor = JSON.parse(row.flavor) as FlavorSnapshot
  const ignore = await excludedHosts(d, row.host, typeof args.host === 'string' ? args.host : undefined, true)
  const m = await begin(d, ctx, row, { kind: 'live-migration', migrationUuid, oldFlavor: flavor, newFlavor: flavor, taskState: 'migrating', status: 'queued' })
  let dest
  try {
    dest = await claimTarget(d, ctx, row, m, flavor, ignore)
  } catch (err) {
    // From 2.34 Nova runs the pre-checks after its 202: no valid host ends the migration in
    // `error` and the instance action in Error (claimTarget recorded both), the guest untouched.
    if (args.asyncPrechecks === true && err instanceof InvalidError) return d.store.toRecord(await d.store.get(row.uuid))
    throw err
  }
  await d.db.transaction().execute((tx) => setMigration(tx, m.uuid, { status: 'running', dest_host: dest.host, dest_node: dest.node }))
  void d.agent.capacityChanged(ctx).catch(() => undefined)
  const started = (await findMigration(d, m.uuid)) ?? m
  void runLiveMigration(d, ctx, started).catch((err: unknown) => d.log.error({ requestId: ctx.requestId, instance: row.uuid, err: String(err) }, 'live migration failed to finish'))
  return d.store.toRecord(await d.store.get(row.uuid))
}

async function runLiveMigration(d: ConductorDeps, ctx: RequestContext, m: MigrationRow): Promise<void> {
  const uuid = m.instance_uuid
  const dest = m.dest_host ?? ''
  try {
    const guest = await d.compute.moveStep(ctx, m.source_host, 'live_migration_source', { uuid })
    const running = await d.compute.moveStep(ctx, dest, 'live_migration_target', { migration: guest })
    const switched = await d.db.transaction().execute(async (tx) => {
      const r = await d.store.change(tx, uuid, { host: dest, node: m.dest_node ?? dest, task_state: null, power_state: running.powerState }, { taskState: 'migrating' })
      if (r === undefined) return false
      await adoptMoveClaim(tx, m.uuid, uuid)
      await setMigration(tx, m.uuid, { status: 'completed' })
      await finishAction(tx, uuid, 'Success')
      return true
    })
    if (!switched) throw new Error('the instance changed during its live migration')
    d.log.info({ requestId: ctx.requestId, instance: uuid, source: m.source_host, dest }, 'live migration completed')
    // The target runs the guest and the records say so: the source's copy goes (or, should the
    // source not answer, at its compute's next start, since the instance is no longer its own).
    await d.compute.moveStep(ctx, m.source_host, 'move_cleanup', { uuid }).catch((err: unknown) => {
      d.log.warn({ requestId: ctx.requestId, instance: uuid, host: m.source_host, err: String(err) }, 'live migration: the source kept its guest for now')
    })
  } catch (err) {
    await failLiveMigration(d, ctx, m, err instanceof Error ? err.message : String(err))
    return
  }
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}

/**
 * A live migration that failed (or was interrupted) before the switch: the guest stays on the
 * source; the target's guest (if it started one) and claim go.
 */
export async function failLiveMigration(d: ConductorDeps, ctx: RequestContext, m: MigrationRow, message: string): Promise<void> {
  const uuid = m.instance_uuid
  const dest = m.dest_host ?? ''
  d.log.warn({ requestId: ctx.requestId, instance: uuid, dest, err: message }, 'live migration failed; the guest stays on the source')
  if (dest !== '') await d.compute.moveStep(ctx, dest, 'move_cleanup', { uuid }).catch(() => undefined)
  await d.db.transaction().execute(async (tx) => {
    await releaseResources(tx, m.uuid)
    await setMigration(tx, m.uuid, { status: 'error' })
    await d.store.change(tx, uuid, { task_state: null }, { taskState: 'migrating' })
    await finishAction(tx, uuid, 'Error', `Live migration to ${dest} failed: ${message}`.slice(0, 255))
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}
