import type { BuildSpec } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { releaseResources } from '../../db/claims.js'
import type { ConductorDeps } from '../deps.js'
import type { InstanceUpdate } from '../rpc-api.js'
import { finishAction } from './actions-log.js'
import { hintHostsOf, requestSpecOf } from './build.js'
import { forgetBuild, spawnRecordOf } from './build-specs.js'

/**
 * Rescheduling a build whose spawn failed (Nova's `build_and_run_instance` -> `reschedule`), taken
 * up the tree:
 *
 * 1. compute reports the failure; the conductor (in one transaction) moves the instance from
 *    `spawning` to `scheduling`, releases its claim and remembers the failed host;
 * 2. while this cell has tried fewer than `maxBuildAttempts` hosts, the scheduler claims another
 *    one (RetryFilter skips the tried hosts) and compute is told to spawn there;
 * 3. otherwise the cell gives the instance up: in one transaction it is marked deleted here and its
 *    last upward event carries the build spec with this cell added to `triedCells` (a reschedule
 *    request). The event travels through the outbox like any other, so it is never lost; the API
 *    cell turns it back into a build request and dispatches it again, avoiding the tried cells,
 *    or records the instance in cell0 when no other cell can take it.
 *
 * Every step is guarded by the instance's task state, so a delete that starts meanwhile wins.
 */

interface Attempt {
  readonly spec: BuildSpec
  readonly tried: readonly string[]
  readonly faults: readonly string[]
}

/**
 * Compute could not spawn `u.uuid`: retry on another host of this cell, else hand the build back up.
 * Returns `undefined` when this cell kept no spec for the instance (it cannot reschedule: the
 * caller records the error as before), else whether the report was applied (`false`: the instance
 * left `spawning` meanwhile, e.g. a delete won).
 */
export async function rescheduleBuild(d: ConductorDeps, ctx: RequestContext, u: InstanceUpdate): Promise<{ applied: boolean } | undefined> {
  const message = u.fault?.message ?? 'spawn failed'
  const attempt = await d.db.transaction().execute(async (tx): Promise<Attempt | null | undefined> => {
    const kept = await tx.selectFrom('build_specs').selectAll().where('instance_uuid', '=', u.uuid).executeTakeFirst()
    if (kept === undefined) return undefined
    const row = await d.store.change(tx, u.uuid, { task_state: 'scheduling', host: null, node: null, power_state: u.powerState }, { taskState: 'spawning' })
    if (row === undefined) return null
    await releaseResources(tx, u.uuid)
    const tried = [...(JSON.parse(kept.tried_hosts) as string[]), u.event.host]
    const faults = [...(JSON.parse(kept.faults) as string[]), `${d.cellPath} host ${u.event.host}: ${message}`]
    await tx
      .updateTable('build_specs')
      .set({ tried_hosts: JSON.stringify(tried), faults: JSON.stringify(faults) })
      .where('instance_uuid', '=', u.uuid)
      .execute()
    return { spec: JSON.parse(kept.spec) as BuildSpec, tried, faults }
  })
  if (attempt === undefined) return undefined
  if (attempt === null) return { applied: false }
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
  d.log.warn({ requestId: ctx.requestId, instance: u.uuid, host: u.event.host, tried: attempt.tried, err: message }, 'spawn failed: rescheduling')
  if (attempt.tried.length < d.maxBuildAttempts && (await retryHere(d, ctx, attempt))) return { applied: true }
  await handUp(d, ctx, attempt)
  return { applied: true }
}

/** Claims another host of this cell and spawns there. `false` when no other host can take it. */
async function retryHere(d: ConductorDeps, ctx: RequestContext, a: Attempt): Promise<boolean> {
  const uuid = a.spec.instanceUuid
  let sel
  try {
    const hintHosts = await hintHostsOf(d, a.spec.schedulerHints)
    sel = await d.scheduler.selectDestination(ctx, requestSpecOf(a.spec, { ignoreHosts: a.tried, ...(hintHosts === undefined ? {} : { hintHosts }) }))
  } catch (err) {
    // No valid host here (or the scheduler did not answer): the build goes back up the tree.
    d.log.info({ requestId: ctx.requestId, instance: uuid, err: err instanceof Error ? err.message : String(err) }, 'no other host in this cell')
    return false
  }
  const row = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(
      tx,
      uuid,
      { host: sel.host, node: sel.nodeName, availability_zone: sel.availabilityZone, task_state: 'spawning' },
      { taskState: 'scheduling' },
    )
    if (r !== undefined) return r
    // Deleted while we looked for a host: give the new claim back. (Another conductor that
    // resumed the same reschedule and won keeps the claim: it is the same, idempotent one.)
    const now = await tx.selectFrom('instances').select(['deleted', 'task_state']).where('uuid', '=', uuid).executeTakeFirst()
    if (now === undefined || now.deleted === 1 || now.task_state === 'deleting') await releaseResources(tx, uuid)
    return undefined
  })
  if (row === undefined) return true
  await d.compute.buildAndRunInstance(ctx, sel.host, spawnRecordOf(d.store.toRecord(row), a.spec))
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
  return true
}

/** Gives the instance up here and sends its build back up the tree in its last event. */
async function handUp(d: ConductorDeps, ctx: RequestContext, a: Attempt): Promise<void> {
  const uuid = a.spec.instanceUuid
  const now = Date.now()
  const triedCells = [...(a.spec.retry?.triedCells ?? []), d.cellPath]
  const faults = [...(a.spec.retry?.faults ?? []), ...a.faults]
  const last = a.faults[a.faults.length - 1] ?? 'spawn failed'
  const handed = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(
      tx,
      uuid,
      {
        vm_state: 'error',
        task_state: null,
        host: null,
        node: null,
        deleted: 1,
        deleted_at: now,
        fault: JSON.stringify({ code: 500, message: last.slice(0, 255), created: now, details: a.faults.join('\n') }),
      },
      { taskState: 'scheduling' },
      { reschedule: { spec: a.spec, triedCells, faults } },
    )
    if (r === undefined) return false
    await releaseResources(tx, uuid)
    await forgetBuild(tx, uuid)
    await finishAction(tx, uuid, 'Error', last.slice(0, 255))
    return true
  })
  if (!handed) return
  d.log.warn({ requestId: ctx.requestId, instance: uuid, triedCells }, 'no host of this cell could spawn the instance: handed back up the tree')
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}

/**
 * Finishes reschedules a conductor left half done (it stopped between giving up a host and
 * claiming the next one): instances in `building`/`scheduling` whose build spec is still here and
 * which have not changed for `olderThanMs`. Each is retried here or handed up exactly as after a
 * failed spawn; the task-state guards make a race with a live conductor harmless.
 */
export async function resumeStuckReschedules(d: ConductorDeps, ctx: RequestContext, olderThanMs: number): Promise<number> {
  const rows = await d.db
    .selectFrom('instances')
    .innerJoin('build_specs', 'build_specs.instance_uuid', 'instances.uuid')
    .select(['build_specs.spec', 'build_specs.tried_hosts', 'build_specs.faults'])
    .where('instances.vm_state', '=', 'building')
    .where('instances.task_state', '=', 'scheduling')
    .where('instances.deleted', '=', 0)
    .where('instances.updated_at', '<', Date.now() - olderThanMs)
    .execute()
  for (const r of rows) {
    const a: Attempt = { spec: JSON.parse(r.spec) as BuildSpec, tried: JSON.parse(r.tried_hosts) as string[], faults: JSON.parse(r.faults) as string[] }
    d.log.warn({ requestId: ctx.requestId, instance: a.spec.instanceUuid }, 'resuming an interrupted reschedule')
    if (a.tried.length < d.maxBuildAttempts && (await retryHere(d, ctx, a))) continue
    await handUp(d, ctx, a)
  }
  return rows.length
}

/**
 * Builds whose spawn has not come back within `buildTimeoutMs` (Nova's `instance_build_timeout`):
 * the host is down or lost the cast. Each is treated as a failed spawn on that host: rescheduled
 * on another host of this cell, or handed back up the tree, or (without a kept build spec) put in
 * ERROR with a fault. Should the silent host come back and spawn it after all, its report is
 * refused (the instance is no longer its own: conductor caller policy) and compute then destroys
 * the guest, so no VM runs that the API does not show. Returns how many builds it took over.
 */
export async function expireStuckSpawns(d: ConductorDeps, ctx: RequestContext, buildTimeoutMs: number): Promise<number> {
  const rows = await d.db
    .selectFrom('instances')
    .select(['uuid', 'host'])
    .where('vm_state', '=', 'building')
    .where('task_state', '=', 'spawning')
    .where('deleted', '=', 0)
    .where('updated_at', '<', Date.now() - buildTimeoutMs)
    .execute()
  for (const r of rows) {
    const host = r.host ?? ''
    const fault = { code: 500, message: `Build of instance ${r.uuid} timed out on host ${host} after ${Math.round(buildTimeoutMs / 1000)} s` }
    const update: InstanceUpdate = {
      uuid: r.uuid,
      expectedTaskState: 'spawning',
      vmState: 'building',
      taskState: 'scheduling',
      powerState: 0,
      fault,
      event: { name: 'compute__do_build_and_run_instance', result: 'Error', host },
    }
    d.log.warn({ requestId: ctx.requestId, instance: r.uuid, host }, 'spawn timed out: treating it as a failed spawn')
    const done = await rescheduleBuild(d, ctx, update)
    if (done !== undefined) continue
    // No build spec kept here (an older build): the instance ends in ERROR, its claim released.
    await d.db.transaction().execute(async (tx) => {
      const row = await d.store.change(tx, r.uuid, { vm_state: 'error', task_state: null, fault: JSON.stringify({ ...fault, created: Date.now() }) }, { taskState: 'spawning' })
      if (row !== undefined) await releaseResources(tx, r.uuid)
    })
    void d.agent.outboxChanged(ctx).catch(() => undefined)
  }
  return rows.length
}
