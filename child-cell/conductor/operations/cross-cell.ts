import type { Selectable } from 'kysely'
import type { FlavorSnapshot, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { releaseResources } from '../../db/claims.js'
import type { InstancesTable } from '../../db/schema.js'
import type { ConductorDeps } from '../deps.js'
import { finishAction, listActions, recordAction } from './actions-log.js'
import { networkInfoColumn } from './build-specs.js'
import { copyActions } from './cross-cell-actions.js'
import { flavorArg } from './migrations-store.js'
import { stateConflict } from './move.js'

// The cell's half of a cross-cell cold migration or resize (the saga is driven by the API cell,
// api-cell/compute/cross-cell/saga.ts). Every step is idempotent by instance uuid: the API asks
// again after an unknown outcome, and a restarted API resumes a saga from its last durable step.
// The disk is not copied: moves assume storage shared by the cells' hosts (docs/moves.md).

type Row = Selectable<InstancesTable>

/** Instance actions of this file, routed down the tree like any other instance action. */
export const CROSS_CELL_ACTIONS = new Set([
  'xcell_source_begin',
  'xcell_source_stop',
  'xcell_source_restore',
  'xcell_source_drop',
  'xcell_target_prepare',
  'xcell_target_finish',
  'xcell_target_confirm',
  'xcell_target_cleanup',
])

/** The task state a source instance keeps while its copy is prepared elsewhere. */
const SOURCE_MARKED = new Set(['resize_prep', 'resize_migrated'])

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** A live row of `uuid`, or undefined (missing or deleted). */
async function liveRow(d: ConductorDeps, uuid: string): Promise<Row | undefined> {
  const row = await d.db.selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirst()
  return row === undefined || row.deleted === 1 ? undefined : row
}

const outboxChanged = (d: ConductorDeps, ctx: RequestContext): void => {
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}

/**
 * Runs one cross-cell step on this cell. The API cell is the only caller (an admin context for
 * the operator's moves, or the owner's for a resize); the instance need not exist here yet (the
 * target's prepare creates it).
 */
export async function crossCellAction(d: ConductorDeps, ctx: RequestContext, uuid: string, action: string, rawArgs: unknown): Promise<unknown> {
  const args = isObject(rawArgs) ? rawArgs : {}
  switch (action) {
    case 'xcell_source_begin':
      return sourceBegin(d, ctx, uuid, args)
    case 'xcell_source_stop':
      return sourceStop(d, ctx, uuid)
    case 'xcell_source_restore':
      return sourceRestore(d, ctx, uuid, args['failed'] === true ? String(args['message'] ?? 'the move failed') : undefined)
    case 'xcell_source_drop':
      return dropCopy(d, ctx, uuid, 'source')
    case 'xcell_target_prepare':
      return targetPrepare(d, ctx, uuid, args)
    case 'xcell_target_finish':
      return targetFinish(d, ctx, uuid, args['powerOn'] === true)
    case 'xcell_target_confirm':
      return targetConfirm(d, ctx, uuid, args['vmState'] === 'stopped' ? 'stopped' : 'active')
    case 'xcell_target_cleanup':
      return dropCopy(d, ctx, uuid, 'target')
  }
  throw new InvalidError(`unknown cross-cell action ${action}`)
}

/**
 * Source, step 1: the instance is marked (task_state `resize_prep`, so no other action starts) and
 * the action recorded. Answers the full record and what the target needs beyond it (key data).
 * Asked again while marked: the same answer.
 */
async function sourceBegin(d: ConductorDeps, ctx: RequestContext, uuid: string, args: Record<string, unknown>): Promise<unknown> {
  const row = await d.store.get(uuid)
  const kind = args['kind'] === 'resize' ? 'resize' : 'migrate'
  if (SOURCE_MARKED.has(row.task_state ?? '')) return { record: d.store.toRecord(row), keyData: row.key_data, actions: await listActions(d.db, uuid) }
  if (!['active', 'stopped'].includes(row.vm_state) || row.task_state !== null || row.host === null) throw stateConflict(kind, row)
  const marked = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(tx, uuid, { task_state: 'resize_prep' }, { version: row.version })
    if (r === undefined) throw stateConflict(kind, row)
    await recordAction(tx, ctx, { uuid, action: kind, projectId: row.project_id, userId: row.user_id, event: 'conductor_migrate_server', host: row.host })
    return r
  })
  outboxChanged(d, ctx)
  return { record: d.store.toRecord(marked), keyData: marked.key_data, actions: await listActions(d.db, uuid) }
}

/** Source, step 3: the guest stops (kept with its disk until confirm or revert). Idempotent. */
async function sourceStop(d: ConductorDeps, ctx: RequestContext, uuid: string): Promise<InstanceRecord> {
  const row = await d.store.get(uuid)
  if (row.task_state === 'resize_migrated') return d.store.toRecord(row)
  if (row.task_state !== 'resize_prep' || row.host === null) throw stateConflict('migrate', row)
  const guest = await d.compute.moveStep(ctx, row.host, 'move_prepare_source', { uuid })
  const stopped = await d.db.transaction().execute((tx) =>
    d.store.change(tx, uuid, { task_state: 'resize_migrated', power_state: guest.powerState }, { taskState: 'resize_prep' }),
  )
  outboxChanged(d, ctx)
  return d.store.toRecord(stopped ?? (await d.store.get(uuid)))
}

/**
 * Source, on a rollback or a revert: the original guest runs again as before (powered on when it
 * was active), the instance idle. `failed` records the move's failure on the action.
 */
async function sourceRestore(d: ConductorDeps, ctx: RequestContext, uuid: string, failed: string | undefined): Promise<InstanceRecord> {
  const row = await d.store.get(uuid)
  if (row.task_state === null) return d.store.toRecord(row)
  if (row.host === null) throw stateConflict('revertResize', row)
  const powerOn = row.vm_state === 'active'
  const guest = await d.compute.moveStep(ctx, row.host, 'move_finish_revert', { instance: d.store.toRecord(row), powerOn, recreate: false })
  const back = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(tx, uuid, { task_state: null, power_state: guest.powerState })
    await finishAction(tx, uuid, failed === undefined ? 'Success' : 'Error', failed?.slice(0, 255))
    return r
  })
  outboxChanged(d, ctx)
  return d.store.toRecord(back ?? (await d.store.get(uuid)))
}

/**
 * Source at confirm, target at revert or rollback: the guest goes (best effort: a host that does
 * not answer destroys it at its next start, the instance being deleted here), the claim is given
 * back and the row is deleted. Idempotent: nothing to do answers null.
 */
async function dropCopy(d: ConductorDeps, ctx: RequestContext, uuid: string, side: 'source' | 'target'): Promise<null> {
  const row = await liveRow(d, uuid)
  if (row === undefined) {
    await d.db.transaction().execute((tx) => releaseResources(tx, uuid))
    return null
  }
  if (row.host !== null) {
    await d.compute.moveStep(ctx, row.host, 'move_cleanup', { uuid }).catch((err: unknown) => {
      d.log.warn({ requestId: ctx.requestId, instance: uuid, host: row.host, err: String(err) }, `cross-cell ${side}: the host did not remove its guest; it will at its next start`)
    })
  }
  const now = Date.now()
  await d.db.transaction().execute(async (tx) => {
    await releaseResources(tx, uuid)
    await d.store.change(tx, uuid, { deleted: 1, deleted_at: now, vm_state: 'deleted', task_state: null, terminated_at: now })
    await finishAction(tx, uuid, 'Success')
  })
  d.log.info({ requestId: ctx.requestId, instance: uuid, side }, 'cross-cell move: this cell\'s copy removed')
  outboxChanged(d, ctx)
  return null
}

/**
 * Target, step 2: a copy of the instance with the same uuid (task_state `resize_migrating`), a
 * host picked by this cell's scheduler and claimed for the new flavor under the instance uuid.
 * No host that fits is a definite refusal (nothing kept). Asked again: the same host. A deleted
 * row of an earlier stay of the instance in this cell is purged first.
 */
async function targetPrepare(d: ConductorDeps, ctx: RequestContext, uuid: string, args: Record<string, unknown>): Promise<{ host: string; node: string }> {
  const source = args['instance']
  if (!isObject(source) || source['uuid'] !== uuid) throw new InvalidError('xcell_target_prepare needs the instance record of the same uuid')
  const r = source as unknown as InstanceRecord
  const flavor: FlavorSnapshot = flavorArg(args['flavor'])
  const existing = await d.db.selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirst()
  if (existing !== undefined && existing.deleted === 0) {
    if (existing.host === null) throw new InvalidError(`Instance ${uuid} is already in this cell`)
    return { host: existing.host, node: existing.node ?? existing.host }
  }
  const host = typeof args['host'] === 'string' ? args['host'] : undefined
  const sel = await d.scheduler.selectDestination(ctx, {
    instanceUuid: uuid,
    projectId: r.projectId,
    flavor,
    image: { id: r.imageRef, properties: {} },
    ignoreHosts: [],
    schedulerHints: {},
    ...(host === undefined ? {} : { hintHosts: { sameHost: [host] } }),
  })
  if (host !== undefined && sel.host !== host) {
    await d.db.transaction().execute((tx) => releaseResources(tx, uuid))
    throw new InvalidError(`No valid host was found. ${host} cannot take the instance`)
  }
  const now = Date.now()
  await d.db.transaction().execute(async (tx) => {
    if (existing !== undefined) {
      // An earlier stay of the instance in this cell: its row and actions give way to the copy's.
      await tx.deleteFrom('instances').where('uuid', '=', uuid).where('deleted', '=', 1).execute()
      const old = await tx.selectFrom('instance_actions').select('id').where('instance_uuid', '=', uuid).execute()
      if (old.length > 0) await tx.deleteFrom('instance_action_events').where('action_id', 'in', old.map((a) => a.id)).execute()
      await tx.deleteFrom('instance_actions').where('instance_uuid', '=', uuid).execute()
    }
    await d.store.insert(
      tx,
      {
        uuid,
        name: r.name,
        hostname: r.hostname,
        project_id: r.projectId,
        user_id: r.userId,
        host: sel.host,
        node: sel.nodeName,
        availability_zone: sel.availabilityZone,
        flavor: JSON.stringify(flavor),
        flavor_id: flavor.id,
        image_ref: r.imageRef,
        vm_state: r.vmState,
        task_state: 'resize_migrating',
        power_state: 0,
        key_name: r.keyName,
        key_data: typeof args['keyData'] === 'string' ? args['keyData'] : null,
        metadata: JSON.stringify(r.metadata ?? {}),
        tags: JSON.stringify(r.tags ?? []),
        user_data: r.userData,
        description: r.description,
        reservation_id: r.reservationId,
        launch_index: r.launchIndex,
        locked: r.locked ? 1 : 0,
        locked_by: r.lockedBy,
        locked_reason: r.lockedReason,
        config_drive: r.configDrive,
        access_ip_v4: r.accessIpV4,
        access_ip_v6: r.accessIpV6,
        fault: null,
        launched_at: r.launchedAt,
        terminated_at: null,
        created_at: r.createdAt,
        updated_at: now,
        deleted: 0,
        deleted_at: null,
        shelved_image_id: null,
        // The interfaces move with the instance: the target's guest renders the same ports.
        network_info: networkInfoColumn(r.networkInfo),
      },
      r.version,
    )
    // The instance's actions come along (as Nova copies them to the target cell); the move's own
    // action, still open, gets this cell's event.
    const event = { event: 'compute_prep_snapshot_based_resize_at_dest', host: sel.host }
    if (!(await copyActions(tx, uuid, args['actions'], event))) {
      await recordAction(tx, ctx, { uuid, action: typeof args['kind'] === 'string' ? args['kind'] : 'migrate', projectId: r.projectId, userId: r.userId, ...event })
    }
  })
  d.log.info({ requestId: ctx.requestId, instance: uuid, host: sel.host }, 'cross-cell move: target copy prepared')
  outboxChanged(d, ctx)
  return { host: sel.host, node: sel.nodeName }
}

/** Target, step 4: the guest is created on the claimed host; the copy ends `resized` (VERIFY_RESIZE). Idempotent. */
async function targetFinish(d: ConductorDeps, ctx: RequestContext, uuid: string, powerOn: boolean): Promise<InstanceRecord> {
  const row = await liveRow(d, uuid)
  if (row === undefined) throw new NotFoundError(`Instance ${uuid} could not be found.`)
  if (row.vm_state === 'resized' || row.task_state === null) return d.store.toRecord(row)
  if (row.host === null) throw stateConflict('migrate', row)
  const guest = await d.compute.moveStep(ctx, row.host, 'move_finish_target', { instance: d.store.toRecord(row), powerOn })
  const done = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(tx, uuid, { vm_state: 'resized', task_state: null, power_state: guest.powerState, launched_at: row.launched_at ?? Date.now() })
    await finishAction(tx, uuid, 'Success')
    return r
  })
  outboxChanged(d, ctx)
  return d.store.toRecord(done ?? (await d.store.get(uuid)))
}

/** Target at confirm: the copy is the instance, back to the state it had before the move. Idempotent. */
async function targetConfirm(d: ConductorDeps, ctx: RequestContext, uuid: string, vmState: 'active' | 'stopped'): Promise<InstanceRecord> {
  const row = await d.store.get(uuid)
  if (row.vm_state !== 'resized') return d.store.toRecord(row)
  const done = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(tx, uuid, { vm_state: vmState, task_state: null })
    await recordAction(tx, ctx, { uuid, action: 'confirmResize', projectId: row.project_id, userId: row.user_id, event: 'compute_confirm_snapshot_based_resize_at_source', host: row.host })
    await finishAction(tx, uuid, 'Success')
    return r
  })
  outboxChanged(d, ctx)
  return d.store.toRecord(done ?? (await d.store.get(uuid)))
}
