import type { BuildImage, FlavorSnapshot, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { adoptMoveClaim, releaseResources } from '../../db/claims.js'
import type { ConductorDeps } from '../deps.js'
import { finishAction } from './actions-log.js'
import { withImageFetch } from './build-specs.js'
import type { MigrationRow } from './migrations-store.js'
import { setMigration } from './migrations-store.js'

/** The record as the target must create it: the new flavor, the target host. */
function targetRecord(d: ConductorDeps, row: Parameters<ConductorDeps['store']['toRecord']>[0], m: MigrationRow): InstanceRecord {
  const flavor = JSON.parse(m.new_flavor) as FlavorSnapshot
  return { ...d.store.toRecord(row), flavor, host: m.dest_host, node: m.dest_node }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/**
 * Step 3 of a resize or cold migration (see move.ts): the source stops its guest, the target
 * creates one with the new flavor, and the instance ends `resized` on the target, both claims
 * held until confirm or revert. When a step fails (the target refuses, cannot spawn, or does not
 * answer), the move is compensated: the target's guest (if any) and claim go, the source's guest
 * runs again as before, the instance is back on the source with its old state and flavor, the
 * migration is `error` and the action records the failure.
 */
export async function runMove(d: ConductorDeps, ctx: RequestContext, m: MigrationRow): Promise<void> {
  const uuid = m.instance_uuid
  const dest = m.dest_host ?? m.source_host
  const powerOn = m.previous_vm_state === 'active'
  try {
    if (dest !== m.source_host) await d.compute.moveStep(ctx, m.source_host, 'move_prepare_source', { uuid })
    const row = await d.db.transaction().execute(async (tx) => {
      await setMigration(tx, m.uuid, { status: 'post-migrating' })
      return d.store.change(tx, uuid, { task_state: 'resize_finish' }, { taskState: 'resize_migrating' })
    })
    if (row === undefined) throw new Error('the instance changed during its move')
    void d.agent.outboxChanged(ctx).catch(() => undefined)
    const guest = await d.compute.moveStep(ctx, dest, 'move_finish_target', { instance: targetRecord(d, row, m), powerOn })
    const flavor = JSON.parse(m.new_flavor) as FlavorSnapshot
    const done = await d.db.transaction().execute(async (tx) => {
      const r = await d.store.change(
        tx,
        uuid,
        { vm_state: 'resized', task_state: null, host: dest, node: m.dest_node ?? dest, flavor: m.new_flavor, flavor_id: flavor.id, power_state: guest.powerState },
        { taskState: 'resize_finish' },
      )
      if (r === undefined) return false
      await setMigration(tx, m.uuid, { status: 'finished' })
      await finishAction(tx, uuid, 'Success')
      return true
    })
    if (!done) throw new Error('the instance changed during its move')
    d.log.info({ requestId: ctx.requestId, instance: uuid, source: m.source_host, dest }, 'move finished; waiting for confirm or revert')
  } catch (err) {
    await compensateMove(d, ctx, m, messageOf(err))
    return
  }
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}

/**
 * Puts a resize or cold migration that failed (or was interrupted) back on its source: the
 * target's guest and claim go, the source's guest runs again as before, the instance has its old
 * state and flavor, the migration is `error` and the action records why. Every step is idempotent,
 * so that it can run again after an interruption.
 */
export async function compensateMove(d: ConductorDeps, ctx: RequestContext, m: MigrationRow, message: string): Promise<void> {
  const uuid = m.instance_uuid
  const dest = m.dest_host ?? m.source_host
  const powerOn = m.previous_vm_state === 'active'
  d.log.warn({ requestId: ctx.requestId, instance: uuid, source: m.source_host, dest, err: message }, 'move failed; back to the source')
  if (dest !== m.source_host) await d.compute.moveStep(ctx, dest, 'move_cleanup', { uuid }).catch(() => undefined)
  const current = await d.store.get(uuid).catch(() => undefined)
  let powerState = current?.power_state ?? 0
  if (current !== undefined) {
    const old = { ...d.store.toRecord(current), flavor: JSON.parse(m.old_flavor) as FlavorSnapshot, host: m.source_host, node: m.source_node }
    const back = await d.compute.moveStep(ctx, m.source_host, 'move_finish_revert', { instance: old, powerOn, recreate: dest === m.source_host }).catch(() => undefined)
    powerState = back?.powerState ?? powerState
  }
  await d.db.transaction().execute(async (tx) => {
    await releaseResources(tx, m.uuid)
    await setMigration(tx, m.uuid, { status: 'error' })
    const old = JSON.parse(m.old_flavor) as FlavorSnapshot
    if (current !== undefined && current.deleted === 0) {
      await d.store.change(tx, uuid, {
        vm_state: m.previous_vm_state,
        task_state: null,
        host: m.source_host,
        node: m.source_node,
        flavor: m.old_flavor,
        flavor_id: old.id,
        power_state: powerState,
      })
    }
    await finishAction(tx, uuid, 'Error', `Move to ${dest} failed: ${message}`.slice(0, 255))
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}

/**
 * The evacuation after its target is claimed: the target rebuilds the guest from the image (as a
 * rebuild does), then the target claim becomes the instance's and the dead host's is given back.
 * A failure leaves the instance in ERROR on the dead host, the target claim released.
 */
export async function runEvacuation(d: ConductorDeps, ctx: RequestContext, m: MigrationRow, image: unknown): Promise<void> {
  const uuid = m.instance_uuid
  const dest = m.dest_host ?? ''
  const powerOn = m.previous_vm_state !== 'stopped'
  try {
    const row = await d.store.get(uuid)
    const instance = withImageFetch(targetRecord(d, row, m), { image: imageOf(image) })
    const guest = await d.compute.moveStep(ctx, dest, 'move_finish_target', { instance, powerOn })
    const done = await d.db.transaction().execute(async (tx) => {
      const r = await d.store.change(
        tx,
        uuid,
        { vm_state: powerOn ? 'active' : 'stopped', task_state: null, host: dest, node: m.dest_node ?? dest, power_state: guest.powerState, fault: null },
        { taskState: 'rebuilding' },
      )
      if (r === undefined) return false
      await adoptMoveClaim(tx, m.uuid, uuid)
      await setMigration(tx, m.uuid, { status: 'done' })
      await finishAction(tx, uuid, 'Success')
      return true
    })
    if (!done) throw new Error('the instance changed during its evacuation')
    d.log.info({ requestId: ctx.requestId, instance: uuid, source: m.source_host, dest }, 'instance evacuated')
  } catch (err) {
    await failEvacuation(d, ctx, m, messageOf(err))
    return
  }
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}

/** An evacuation that failed (or was interrupted): the instance in ERROR on its dead host, the target's guest and claim gone. */
export async function failEvacuation(d: ConductorDeps, ctx: RequestContext, m: MigrationRow, message: string): Promise<void> {
  const uuid = m.instance_uuid
  const dest = m.dest_host ?? ''
  d.log.warn({ requestId: ctx.requestId, instance: uuid, dest, err: message }, 'evacuation failed')
  if (dest !== '') await d.compute.moveStep(ctx, dest, 'move_cleanup', { uuid }).catch(() => undefined)
  const now = Date.now()
  await d.db.transaction().execute(async (tx) => {
    await releaseResources(tx, m.uuid)
    await setMigration(tx, m.uuid, { status: 'failed' })
    await d.store.change(tx, uuid, { vm_state: 'error', task_state: null, fault: JSON.stringify({ code: 500, message: `Evacuation to ${dest} failed: ${message}`, created: now }) })
    await finishAction(tx, uuid, 'Error', message.slice(0, 255))
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}

/** The image fetch of an evacuation request, checked field by field (JSON from the tree). */
function imageOf(raw: unknown): Partial<BuildImage> {
  if (raw === null || typeof raw !== 'object') return {}
  const { downloadUrl, checksum, diskFormat } = raw as Record<string, unknown>
  return {
    ...(typeof downloadUrl === 'string' ? { downloadUrl } : {}),
    ...(typeof checksum === 'string' ? { checksum } : {}),
    ...(typeof diskFormat === 'string' ? { diskFormat } : {}),
  }
}
