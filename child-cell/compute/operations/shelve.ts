import type { InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import type { ImageUploadTarget } from '../image-upload.js'
import { uploadSnapshot } from '../image-upload.js'
import type { ComputeContext } from '../manager.js'
import { messageOf, reportDone } from './report.js'
import { prepareDisk, spawnArgsOf } from './spawn.js'

/** createImage / createBackup as cast by the conductor. */
export interface SnapshotArgs {
  readonly uuid: string
  readonly kind: 'snapshot' | 'backup'
  readonly taskState: string
  /** The vm_state the instance keeps (a snapshot does not change it). */
  readonly vmState: string
  readonly upload: ImageUploadTarget
}

/**
 * Snapshots the instance's disk into the image the API cell created for it. The guest keeps
 * running (Nova's live snapshot); the instance keeps its vm_state. A failed upload leaves no image.
 */
export async function snapshotInstance(c: ComputeContext, ctx: RequestContext, a: SnapshotArgs): Promise<void> {
  const event = `compute_${a.kind}_instance`
  try {
    await uploadSnapshot(c.images, a.uuid, a.upload)
    await reportDone(c, ctx, { uuid: a.uuid, expectedTaskState: a.taskState, vmState: a.vmState, taskState: null, event, result: 'Success' })
  } catch (err) {
    c.log.error({ requestId: ctx.requestId, instance: a.uuid, image: a.upload.imageId, err: messageOf(err) }, `${a.kind} failed`)
    await reportDone(c, ctx, { uuid: a.uuid, expectedTaskState: a.taskState, vmState: a.vmState, taskState: null, event, result: 'Error' })
  }
}

/** shelve as cast by the conductor. */
export interface ShelveArgs {
  readonly uuid: string
  readonly taskState: string
  readonly vmState: string
  readonly upload: ImageUploadTarget
  /** Nova's `shelved_offload_time` 0: remove the guest from the host at once. */
  readonly offload: boolean
}

/**
 * Nova's shelve: the guest is powered off and its disk uploaded as the shelved image; then, when
 * offloading, the guest and its disk leave the host and the claim is released (SHELVED_OFFLOADED).
 * A failure before the snapshot is stored keeps the instance in its vm_state (powered off).
 */
export async function shelveInstance(c: ComputeContext, ctx: RequestContext, a: ShelveArgs): Promise<void> {
  const event = 'compute_shelve_instance'
  try {
    await c.driver.powerOff(a.uuid)
    await uploadSnapshot(c.images, a.uuid, a.upload)
  } catch (err) {
    c.log.error({ requestId: ctx.requestId, instance: a.uuid, err: messageOf(err) }, 'shelve failed')
    await reportDone(c, ctx, { uuid: a.uuid, expectedTaskState: a.taskState, vmState: a.vmState, taskState: null, event, result: 'Error' })
    return
  }
  if (a.offload) await offloadGuest(c, a.uuid)
  await reportDone(c, ctx, {
    uuid: a.uuid,
    expectedTaskState: a.taskState,
    vmState: a.offload ? 'shelved_offloaded' : 'shelved',
    taskState: null,
    ...(a.offload ? { offloaded: true } : {}),
    event,
    result: 'Success',
  })
}

/** shelveOffload of a SHELVED instance: the guest and its disk leave the host. */
export async function shelveOffloadInstance(c: ComputeContext, ctx: RequestContext, a: { uuid: string; taskState: string }): Promise<void> {
  const event = 'compute_shelve_offload_instance'
  try {
    await offloadGuest(c, a.uuid)
    await reportDone(c, ctx, { uuid: a.uuid, expectedTaskState: a.taskState, vmState: 'shelved_offloaded', taskState: null, offloaded: true, event, result: 'Success' })
  } catch (err) {
    c.log.error({ requestId: ctx.requestId, instance: a.uuid, err: messageOf(err) }, 'shelve offload failed')
    await reportDone(c, ctx, { uuid: a.uuid, expectedTaskState: a.taskState, vmState: 'shelved', taskState: null, event, result: 'Error' })
  }
}

/** unshelve as cast by the conductor: `instance` (with the shelved image to spawn from) once offloaded. */
export interface UnshelveArgs {
  readonly uuid: string
  readonly taskState: string
  readonly instance?: InstanceRecord
  /** Deletes the shelved image once the instance runs again (a signed URL; never logged). */
  readonly discardUrl?: string
}

/**
 * Nova's unshelve: a SHELVED guest (still on this host) is powered on; an offloaded one is spawned
 * here from the shelved image, on the claim the conductor took. A failed spawn removes what it
 * made and leaves the instance SHELVED_OFFLOADED with a fault (its claim released), never lost.
 */
export async function unshelveInstance(c: ComputeContext, ctx: RequestContext, a: UnshelveArgs): Promise<void> {
  const event = 'compute_unshelve_instance'
  const inst = a.instance
  try {
    if (inst === undefined) await c.driver.powerOn(a.uuid)
    else if (!(await c.driver.listInstances()).includes(a.uuid)) {
      await c.driver.spawn({ ...spawnArgsOf(inst), ...(await prepareDisk(c, inst)) })
    }
    await reportDone(c, ctx, { uuid: a.uuid, expectedTaskState: a.taskState, vmState: 'active', taskState: null, launched: true, event, result: 'Success' })
  } catch (err) {
    await unshelveFailed(c, ctx, a, err)
    return
  }
  if (a.discardUrl !== undefined) {
    // Nova deletes the shelved image now; a failure only leaves an image behind.
    await fetch(a.discardUrl, { method: 'DELETE', signal: AbortSignal.timeout(30_000) })
      .then((r) => r.body?.cancel())
      .catch((err: unknown) => c.log.warn({ requestId: ctx.requestId, instance: a.uuid, err: messageOf(err) }, 'shelved image not deleted'))
  }
}

async function unshelveFailed(c: ComputeContext, ctx: RequestContext, a: UnshelveArgs, err: unknown): Promise<void> {
  const inst = a.instance
  const message = messageOf(err)
  c.log.error({ requestId: ctx.requestId, instance: a.uuid, err: message }, 'unshelve failed')
  if (inst !== undefined) await offloadGuest(c, a.uuid).catch(() => undefined)
  await reportDone(c, ctx, {
    uuid: a.uuid,
    expectedTaskState: a.taskState,
    vmState: inst === undefined ? 'shelved' : 'shelved_offloaded',
    taskState: null,
    ...(inst === undefined ? {} : { offloaded: true }),
    fault: { code: 500, message: `Unshelve of instance ${a.uuid} failed: ${message}` },
    event: 'compute_unshelve_instance',
    result: 'Error',
  })
}

async function offloadGuest(c: ComputeContext, uuid: string): Promise<void> {
  await c.driver.destroy(uuid)
  await c.images?.removeInstance(uuid)
}
