import type { RequestContext } from '../../../shared/context.js'
import type { ComputeContext } from '../manager.js'
import { existingConfigDrive, spawnArgsOf, spawnInstance } from './spawn.js'

/**
 * At start-up, brings the hypervisor and the cell's records back in line (Nova's
 * `init_host`): guests of deleted or unknown instances are destroyed, interrupted deletes and
 * spawns are finished, and with `resumeGuestsStateOnHostBoot` guests that should exist but do not
 * (the host rebooted, or libvirt's test driver lost its in-memory state) are recreated in the
 * power state the record says.
 */
export async function syncHost(c: ComputeContext, ctx: RequestContext): Promise<void> {
  const host = c.settings.host
  const records = await c.conductor.instancesOnHost(ctx, host)
  const known = new Set(records.map((r) => r.uuid))
  const guests = new Set(await c.driver.listInstances())
  for (const uuid of guests) {
    if (!known.has(uuid)) {
      c.log.warn({ instance: uuid, host }, 'destroying a guest with no live instance record')
      await c.driver.destroy(uuid)
      await c.images?.removeInstance(uuid)
    }
  }
  for (const r of records) {
    if (r.taskState === 'deleting') {
      await c.driver.destroy(r.uuid)
      await c.images?.removeInstance(r.uuid)
      await c.conductor.instanceDestroyed(ctx, { uuid: r.uuid, host })
      continue
    }
    const present = guests.has(r.uuid)
    if (r.taskState === 'spawning') {
      await spawnInstance(c, ctx, r)
      continue
    }
    // The source of an unconfirmed move (the instance's host is the target): its guest stays as it is.
    if (r.host !== host) continue
    // A cross-cell move under way: the source's stopped guest stays as it is, and the target's copy
    // gets its guest from the move's next step, not from here.
    if (r.taskState === 'resize_migrating' || r.taskState === 'resize_migrated') continue
    if (present || !c.settings.resumeGuestsStateOnHostBoot || r.vmState === 'error') continue
    // The guest's disk outlived it: boot from it again, never from a fresh copy of the image.
    const disk = await c.images?.existingDisk(r.uuid)
    const configDrivePath = await existingConfigDrive(c, r)
    await c.driver.spawn({ ...spawnArgsOf(r), ...(disk === undefined ? {} : { diskPath: disk.path, diskFormat: disk.format }), ...(configDrivePath === undefined ? {} : { configDrivePath }) })
    if (r.vmState === 'stopped' || r.vmState === 'shelved') await c.driver.powerOff(r.uuid)
    else if (r.vmState === 'rescued') await c.driver.rescue(r.uuid, { imageRef: r.imageRef })
    else if (r.vmState === 'paused') await c.driver.pause(r.uuid)
    else if (r.vmState === 'suspended') await c.driver.suspend(r.uuid)
    c.log.info({ instance: r.uuid, host, vmState: r.vmState }, 'guest recreated at host start')
  }
}
