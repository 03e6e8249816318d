import type { ImageFetch } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import type { ComputeContext } from '../manager.js'
import { messageOf, reportDone } from './report.js'

/** rescue as cast by the conductor. */
export interface RescueArgs {
  readonly uuid: string
  readonly taskState: string
  /** The vm_state to go back to when the rescue fails. */
  readonly vmState: string
  /** The rescue image (`rescue_image_ref`, else the instance's own image) and how to fetch it. */
  readonly imageRef: string
  readonly image?: ImageFetch
}

/**
 * Nova's rescue: the guest restarts from a disk made from the rescue image, its own disk second.
 * A failure leaves the guest as the driver left it (its own definition) and the vm_state as it was.
 */
export async function rescueInstance(c: ComputeContext, ctx: RequestContext, a: RescueArgs): Promise<void> {
  const event = 'compute_rescue_instance'
  try {
    const disk = c.images !== undefined && a.image !== undefined ? await c.images.prepareRescueDisk({ uuid: a.uuid, imageId: a.imageRef, fetch: a.image }) : undefined
    await c.driver.rescue(a.uuid, { imageRef: a.imageRef, ...(disk === undefined ? {} : { diskPath: disk.path, diskFormat: disk.format }) })
    await reportDone(c, ctx, { uuid: a.uuid, expectedTaskState: a.taskState, vmState: 'rescued', taskState: null, event, result: 'Success' })
  } catch (err) {
    c.log.error({ requestId: ctx.requestId, instance: a.uuid, err: messageOf(err) }, 'rescue failed')
    await c.images?.removeRescueDisk(a.uuid).catch(() => undefined)
    await reportDone(c, ctx, { uuid: a.uuid, expectedTaskState: a.taskState, vmState: a.vmState, taskState: null, event, result: 'Error' })
  }
}

/** unrescue: the guest restarts from its own disk; the rescue disk goes. */
export async function unrescueInstance(c: ComputeContext, ctx: RequestContext, a: { uuid: string; taskState: string }): Promise<void> {
  const event = 'compute_unrescue_instance'
  try {
    await c.driver.unrescue(a.uuid)
    await c.images?.removeRescueDisk(a.uuid)
    await reportDone(c, ctx, { uuid: a.uuid, expectedTaskState: a.taskState, vmState: 'active', taskState: null, event, result: 'Success' })
  } catch (err) {
    c.log.error({ requestId: ctx.requestId, instance: a.uuid, err: messageOf(err) }, 'unrescue failed')
    await reportDone(c, ctx, { uuid: a.uuid, expectedTaskState: a.taskState, vmState: 'rescued', taskState: null, event, result: 'Error' })
  }
}
