import { access, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { ConflictError } from '../../../shared/errors.js'
import { buildConfigDrive, CONFIG_DRIVE_NAME, fallbackConfigDriveDir } from '../config-drive.js'
import type { ComputeContext } from '../manager.js'
import type { SpawnArgs } from '../virt/driver.js'
import { POWER_STATES } from '../virt/driver.js'

/**
 * Spawns a claimed instance and reports ACTIVE, or ERROR with a fault. Idempotent: a guest that
 * already runs (a redelivered cast, or a resync at start-up) is reported as it is. The root disk is
 * created from the host's image cache first (fetching the image once per host); a failed spawn
 * leaves neither guest nor instance directory.
 *
 * The manager runs it under the instance's lock, so a second attempt of the same build waits for
 * the first. An attempt that arrives after the build was given up here (the first attempt failed
 * and the conductor rescheduled it, or the instance was deleted) finds its report refused: the
 * guest it made is then nobody's, and is removed again (see {@link dropUnwantedGuest}).
 */
export async function spawnInstance(c: ComputeContext, ctx: RequestContext, inst: InstanceRecord): Promise<void> {
  const host = c.settings.host
  let created = false
  try {
    const existing = await c.driver.listInstances()
    if (!existing.includes(inst.uuid)) {
      try {
        await c.driver.spawn({ ...spawnArgsOf(inst), ...(await prepareDisk(c, inst)), ...(await prepareConfigDrive(c, inst)) })
        created = true
      } catch (err) {
        // A concurrent attempt of this very build (a re-cast while the first one was still
        // spawning) created the guest first: report it as it is; never destroy it, never fail it.
        if (!(err instanceof ConflictError && (await c.driver.listInstances()).includes(inst.uuid))) throw err
      }
    }
    const info = await c.driver.getInfo(inst.uuid)
    const { applied } = await c.conductor.instanceUpdate(ctx, {
      uuid: inst.uuid,
      expectedTaskState: 'spawning',
      vmState: 'active',
      taskState: null,
      powerState: info.powerState,
      launched: true,
      event: { name: 'compute__do_build_and_run_instance', result: 'Success', host },
    })
    if (!applied && created) {
      await dropUnwantedGuest(c, ctx, inst.uuid)
      return
    }
    c.log.info({ requestId: ctx.requestId, instance: inst.uuid, host }, 'instance spawned')
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    c.log.error({ requestId: ctx.requestId, instance: inst.uuid, host, err: message }, 'spawn failed')
    await c.driver.destroy(inst.uuid).catch(() => undefined)
    await c.images?.removeInstance(inst.uuid).catch(() => undefined)
    await removeConfigDrive(c, inst.uuid).catch(() => undefined)
    await c.conductor.instanceUpdate(ctx, {
      uuid: inst.uuid,
      expectedTaskState: 'spawning',
      vmState: 'error',
      taskState: null,
      powerState: POWER_STATES.NOSTATE,
      fault: { code: 500, message: `Build of instance ${inst.uuid} aborted: ${message}` },
      event: { name: 'compute__do_build_and_run_instance', result: 'Error', host },
    })
  }
}

/** States in which a record's guest is not wanted on its host (a failed or abandoned build, a delete). */
const GIVEN_UP: ReadonlySet<string> = new Set(['building', 'error', 'deleted'])

/**
 * A guest this attempt created whose ACTIVE report the conductor refused: unless the record says
 * the instance lives here (another attempt reported it first), it was given up on this host
 * (rescheduled, deleted) and nothing would ever remove the guest: it is destroyed now.
 */
async function dropUnwantedGuest(c: ComputeContext, ctx: RequestContext, uuid: string): Promise<void> {
  const host = c.settings.host
  const [record] = await c.conductor.getInstances(ctx, [uuid])
  const livesHere = record !== undefined && record.host === host && !GIVEN_UP.has(record.vmState) && record.taskState !== 'deleting'
  if (livesHere) return
  c.log.warn({ requestId: ctx.requestId, instance: uuid, host, recordHost: record?.host ?? null }, 'spawned a build no longer wanted here: destroying the guest')
  await c.driver.destroy(uuid)
  await c.images?.removeInstance(uuid)
}

/**
 * What the driver needs of a record, the disk aside: its interfaces come with the record (the
 * conductor keeps them in the cell DB), so every spawn path renders the same ports.
 */
export function spawnArgsOf(inst: InstanceRecord): SpawnArgs {
  return {
    uuid: inst.uuid,
    name: inst.name,
    memoryMb: inst.flavor.memoryMb,
    vcpus: inst.flavor.vcpus,
    rootGb: inst.flavor.rootGb,
    imageRef: inst.imageRef,
    ...(inst.networkInfo === undefined || inst.networkInfo.length === 0 ? {} : { networkInfo: inst.networkInfo }),
  }
}

/**
 * Builds the instance's config drive from the files the conductor rendered (none asked: nothing)
 * in its instance directory, `disk.config`. Fails the spawn with a clear reason when the host
 * cannot build one (no `xorriso`).
 */
export async function prepareConfigDrive(c: ComputeContext, inst: InstanceRecord): Promise<Pick<SpawnArgs, 'configDrivePath'>> {
  if (inst.configDriveFiles === undefined) return {}
  const dir = c.images?.instanceDir(inst.uuid) ?? fallbackConfigDriveDir(inst.uuid)
  return { configDrivePath: await buildConfigDrive({ dir, files: inst.configDriveFiles }) }
}

/**
 * The config drive a guest was spawned with, when it outlived the guest (a host restart): the
 * guest is recreated with it. Undefined when the instance has none, or its file is gone.
 */
export async function existingConfigDrive(c: ComputeContext, inst: Pick<InstanceRecord, 'uuid' | 'configDrive'>): Promise<string | undefined> {
  if (inst.configDrive !== 'True') return undefined
  const iso = join(c.images?.instanceDir(inst.uuid) ?? fallbackConfigDriveDir(inst.uuid), CONFIG_DRIVE_NAME)
  try {
    await access(iso)
    return iso
  } catch {
    return undefined
  }
}

/** Removes the config drive of a host without an image cache (the instance directory holds it otherwise). */
export async function removeConfigDrive(c: ComputeContext, uuid: string): Promise<void> {
  if (c.images === undefined) await rm(fallbackConfigDriveDir(uuid), { recursive: true, force: true })
}

/**
 * Creates the instance's root disk from its image through the host's image cache (replacing any
 * disk it had: a rebuild). Nothing when the host has no cache or the record says not how to fetch
 * the image (a build spec from before image caching): the driver then makes a blank disk.
 */
export async function prepareDisk(c: ComputeContext, inst: InstanceRecord): Promise<Pick<SpawnArgs, 'diskPath' | 'diskFormat'>> {
  if (c.images === undefined || inst.image === undefined) return {}
  const disk = await c.images.prepareDisk({ uuid: inst.uuid, imageId: inst.imageRef, fetch: inst.image, rootGb: inst.flavor.rootGb })
  return { diskPath: disk.path, diskFormat: disk.format }
}
