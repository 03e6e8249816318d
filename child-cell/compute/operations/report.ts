import type { RequestContext } from '../../../shared/context.js'
import type { InstanceUpdate } from '../../conductor/rpc-api.js'
import type { ComputeContext } from '../manager.js'
import { POWER_STATES } from '../virt/driver.js'

/**
 * Reports the end of a lifecycle operation with the power state the hypervisor shows now (none
 * when the guest is gone). Failures are logged with the request id, never the URLs of the call.
 */
export async function reportDone(
  c: ComputeContext,
  ctx: RequestContext,
  u: Omit<InstanceUpdate, 'powerState' | 'event'> & { readonly event: string; readonly result: 'Success' | 'Error' },
): Promise<void> {
  const info = await c.driver.getInfo(u.uuid).catch(() => undefined)
  const { event, result, ...rest } = u
  await c.conductor.instanceUpdate(ctx, {
    ...rest,
    powerState: info?.powerState ?? POWER_STATES.NOSTATE,
    event: { name: event, result, host: c.settings.host },
  })
}

/** The message of an error, for logs and faults. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))
