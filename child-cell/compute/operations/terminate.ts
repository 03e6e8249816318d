import type { RequestContext } from '../../../shared/context.js'
import type { ComputeContext } from '../manager.js'
import { removeConfigDrive } from './spawn.js'

/**
 * Destroys the guest (idempotent in the driver), removes its instance directory (the cached image
 * stays for the next guest) and tells the conductor it is gone.
 */
export async function terminateInstance(c: ComputeContext, ctx: RequestContext, uuid: string): Promise<void> {
  await c.driver.destroy(uuid)
  await c.images?.removeInstance(uuid)
  await removeConfigDrive(c, uuid)
  await c.conductor.instanceDestroyed(ctx, { uuid, host: c.settings.host })
  c.log.info({ requestId: ctx.requestId, instance: uuid, host: c.settings.host }, 'instance destroyed')
}
