import type { InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import type { ComputeContext } from '../manager.js'
import { prepareDisk, spawnArgsOf } from './spawn.js'

/** A power action as cast by the conductor. */
export interface PowerActionArgs {
  readonly uuid: string
  readonly action: 'stop' | 'start' | 'reboot' | 'pause' | 'unpause' | 'suspend' | 'resume' | 'rebuild'
  readonly taskState: string
  readonly hard?: boolean
  /** Rebuild: the state to return to (a stopped instance stays stopped) and the new record. */
  readonly previousVmState?: string
  readonly instance?: InstanceRecord
}

const END_VM_STATE: Readonly<Record<PowerActionArgs['action'], string>> = {
  stop: 'stopped',
  start: 'active',
  reboot: 'active',
  pause: 'paused',
  unpause: 'active',
  suspend: 'suspended',
  resume: 'active',
  rebuild: 'active',
}

/**
 * Runs one power action through the driver and reports the state the hypervisor really shows.
 * On failure the instance keeps its vm_state, loses its task state and the action records Error
 * (as Nova's `reverts_task_state` does).
 */
export async function powerAction(c: ComputeContext, ctx: RequestContext, a: PowerActionArgs): Promise<void> {
  const host = c.settings.host
  const event = { name: `compute_${a.action}_instance`, host }
  try {
    switch (a.action) {
      case 'stop':
        await c.driver.powerOff(a.uuid)
        break
      case 'start':
        await c.driver.powerOn(a.uuid)
        break
      case 'reboot':
        await c.driver.reboot(a.uuid, a.hard === true)
        break
      case 'pause':
        await c.driver.pause(a.uuid)
        break
      case 'unpause':
        await c.driver.unpause(a.uuid)
        break
      case 'suspend':
        await c.driver.suspend(a.uuid)
        break
      case 'resume':
        await c.driver.resume(a.uuid)
        break
      case 'rebuild': {
        // Nova's rebuild: the guest is recreated from the (new) image, same uuid and flavor; the
        // old disk goes with the old guest.
        const inst = a.instance
        if (inst === undefined) throw new Error('rebuild without the instance record')
        await c.driver.destroy(a.uuid)
        await c.images?.removeInstance(a.uuid)
        await c.driver.spawn({ ...spawnArgsOf(inst), ...(await prepareDisk(c, inst)) })
        if (a.previousVmState === 'stopped') await c.driver.powerOff(a.uuid)
        break
      }
    }
    const info = await c.driver.getInfo(a.uuid)
    await c.conductor.instanceUpdate(ctx, {
      uuid: a.uuid,
      expectedTaskState: a.taskState,
      vmState: a.action === 'rebuild' && a.previousVmState === 'stopped' ? 'stopped' : END_VM_STATE[a.action],
      taskState: null,
      powerState: info.powerState,
      event: { ...event, result: 'Success' },
    })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    c.log.error({ requestId: ctx.requestId, instance: a.uuid, host, action: a.action, err: message }, 'power action failed')
    const info = await c.driver.getInfo(a.uuid).catch(() => undefined)
    const [current] = await c.conductor.getInstances(ctx, [a.uuid])
    await c.conductor.instanceUpdate(ctx, {
      uuid: a.uuid,
      expectedTaskState: a.taskState,
      vmState: current?.vmState ?? 'error',
      taskState: null,
      powerState: info?.powerState ?? 0,
      event: { ...event, result: 'Error' },
    })
  }
}
