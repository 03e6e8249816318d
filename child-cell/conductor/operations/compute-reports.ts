import type { RequestContext } from '../../../shared/context.js'
import { releaseResources } from '../../db/claims.js'
import type { ConductorDeps } from '../deps.js'
import type { InstanceUpdate } from '../rpc-api.js'
import { finishAction } from './actions-log.js'
import { forgetBuild } from './build-specs.js'
import { rescheduleBuild } from './reschedule.js'

/**
 * Compute finished (or failed) work on an instance. Applied only while the instance is still in
 * the task state compute worked on: a delete that started meanwhile wins.
 */
export async function instanceUpdate(d: ConductorDeps, ctx: RequestContext, u: InstanceUpdate): Promise<{ applied: boolean }> {
  if (u.vmState === 'error' && u.expectedTaskState === 'spawning') {
    // A failed build is retried on another host, or handed back up the tree (reschedule.ts).
    const rescheduled = await rescheduleBuild(d, ctx, u)
    if (rescheduled !== undefined) return rescheduled
  }
  const now = Date.now()
  const applied = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(
      tx,
      u.uuid,
      {
        vm_state: u.vmState,
        task_state: u.taskState,
        power_state: u.powerState,
        ...(u.launched === true ? { launched_at: now } : {}),
        ...(u.fault === undefined ? {} : { fault: JSON.stringify({ ...u.fault, created: now }) }),
        // Offloaded (shelve, a failed unshelve): on no host any more.
        ...(u.offloaded === true ? { host: null, node: null } : {}),
        ...(u.expectedTaskState === 'unshelving' && u.vmState === 'active' ? { shelved_image_id: null } : {}),
      },
      { taskState: u.expectedTaskState },
    )
    if (r === undefined) return false
    await finishAction(tx, u.uuid, u.event.result, u.fault?.message)
    if ((u.vmState === 'error' && u.expectedTaskState === 'spawning') || u.offloaded === true) await releaseResources(tx, u.uuid)
    if (u.expectedTaskState === 'spawning') await forgetBuild(tx, u.uuid)
    return true
  })
  if (applied) {
    void d.agent.outboxChanged(ctx).catch(() => undefined)
    if (u.vmState === 'error' || u.offloaded === true) void d.agent.capacityChanged(ctx).catch(() => undefined)
  }
  return { applied }
}

/** Compute destroyed the guest (or it never had one): the instance is deleted, its claim freed. */
export async function instanceDestroyed(d: ConductorDeps, ctx: RequestContext, args: { uuid: string; host: string }): Promise<void> {
  const now = Date.now()
  await d.db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('instances').select(['deleted']).where('uuid', '=', args.uuid).executeTakeFirst()
    if (row === undefined || row.deleted === 1) return
    await d.store.change(tx, args.uuid, {
      vm_state: 'deleted',
      task_state: null,
      power_state: 0,
      deleted: 1,
      deleted_at: now,
      terminated_at: now,
    })
    await releaseResources(tx, args.uuid)
    await forgetBuild(tx, args.uuid)
    await finishAction(tx, args.uuid, 'Success')
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}
