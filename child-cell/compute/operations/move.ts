import type { InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import type { ComputeContext } from '../manager.js'
import type { GuestState } from '../rpc-api.js'
import type { GuestMigration } from '../virt/driver.js'
import { POWER_STATES } from '../virt/driver.js'
import { prepareDisk, spawnArgsOf } from './spawn.js'

/**
 * The host's side of a move (resize, cold migration, evacuation). The conductor drives the move
 * and calls these one at a time; each is idempotent, so that a retried step after a lost answer
 * does no harm, and each answers with what the hypervisor shows. Nothing here reads or writes the
 * cell's records: the conductor does, from the answers.
 */

/** Source: the guest is shut down and kept (its disk with it) until the move is confirmed or reverted. */
export async function movePrepareSource(c: ComputeContext, ctx: RequestContext, a: { uuid: string }): Promise<GuestState> {
  const info = await c.driver.getInfo(a.uuid)
  if (info.powerState !== POWER_STATES.SHUTDOWN) await c.driver.powerOff(a.uuid)
  c.log.info({ requestId: ctx.requestId, instance: a.uuid, host: c.settings.host }, 'move: source guest stopped')
  return { powerState: (await c.driver.getInfo(a.uuid)).powerState }
}

/**
 * Target: creates the guest with the record's flavor. A guest of the same uuid on this host is the
 * source of a same-host resize: it is replaced (its disk stays: it is the instance's disk). The
 * disk comes from the image when the record says how to fetch it (an evacuation rebuilds), else
 * from what this host already has of the instance, else the driver makes a blank one.
 */
export async function moveFinishTarget(c: ComputeContext, ctx: RequestContext, a: { instance: InstanceRecord; powerOn: boolean }): Promise<GuestState> {
  const inst = a.instance
  if ((await c.driver.listInstances()).includes(inst.uuid)) {
    const info = await c.driver.getInfo(inst.uuid)
    // Asked again after a lost answer: the guest is already the one asked for.
    if (info.memoryMb === inst.flavor.memoryMb && info.vcpus === inst.flavor.vcpus) return settle(c, inst.uuid, a.powerOn)
    await c.driver.destroy(inst.uuid)
  }
  await c.driver.spawn({ ...spawnArgsOf(inst), ...(await diskOf(c, inst)) })
  c.log.info({ requestId: ctx.requestId, instance: inst.uuid, host: c.settings.host }, 'move: guest created on the target')
  return settle(c, inst.uuid, a.powerOn)
}

/** Removes the guest and its instance directory from this host. Idempotent. */
export async function moveCleanup(c: ComputeContext, ctx: RequestContext, a: { uuid: string }): Promise<null> {
  await c.driver.destroy(a.uuid)
  await c.images?.removeInstance(a.uuid)
  c.log.info({ requestId: ctx.requestId, instance: a.uuid, host: c.settings.host }, 'move: guest removed from this host')
  return null
}

/** Source at revert: the guest as it was (recreated with the old flavor after a same-host resize). */
export async function moveFinishRevert(
  c: ComputeContext,
  ctx: RequestContext,
  a: { instance: InstanceRecord; powerOn: boolean; recreate: boolean },
): Promise<GuestState> {
  const inst = a.instance
  const present = (await c.driver.listInstances()).includes(inst.uuid)
  if (present && a.recreate) {
    const info = await c.driver.getInfo(inst.uuid)
    if (info.memoryMb !== inst.flavor.memoryMb || info.vcpus !== inst.flavor.vcpus) await c.driver.destroy(inst.uuid)
  }
  if (!(await c.driver.listInstances()).includes(inst.uuid)) await c.driver.spawn({ ...spawnArgsOf(inst), ...(await diskOf(c, inst)) })
  c.log.info({ requestId: ctx.requestId, instance: inst.uuid, host: c.settings.host }, 'move: reverted to the source guest')
  return settle(c, inst.uuid, a.powerOn)
}

/** Live migration, source: what the target needs to run the guest; the guest keeps running here. */
export async function liveMigrationSource(c: ComputeContext, ctx: RequestContext, a: { uuid: string }): Promise<GuestMigration> {
  const m = await c.driver.migrationSource(a.uuid)
  c.log.info({ requestId: ctx.requestId, instance: a.uuid, host: c.settings.host }, 'live migration: guest definition sent')
  return m
}

/** Live migration, target: the guest defined and started here, in the state it had. */
export async function liveMigrationTarget(c: ComputeContext, ctx: RequestContext, a: { migration: GuestMigration }): Promise<GuestState> {
  await c.driver.migrationTarget(a.migration)
  c.log.info({ requestId: ctx.requestId, instance: a.migration.uuid, host: c.settings.host }, 'live migration: guest running on the target')
  return { powerState: (await c.driver.getInfo(a.migration.uuid)).powerState }
}

async function diskOf(c: ComputeContext, inst: InstanceRecord): Promise<{ diskPath?: string; diskFormat?: 'raw' | 'qcow2' }> {
  if (inst.image !== undefined) return prepareDisk(c, inst)
  const disk = await c.images?.existingDisk(inst.uuid)
  return disk === undefined ? {} : { diskPath: disk.path, diskFormat: disk.format }
}

/** Brings the guest to running or shut off, and reports what it is. */
async function settle(c: ComputeContext, uuid: string, powerOn: boolean): Promise<GuestState> {
  const info = await c.driver.getInfo(uuid)
  if (powerOn && info.powerState !== POWER_STATES.RUNNING) await c.driver.powerOn(uuid)
  if (!powerOn && info.powerState !== POWER_STATES.SHUTDOWN) await c.driver.powerOff(uuid)
  return { powerState: (await c.driver.getInfo(uuid)).powerState }
}
