import { describe, expect, it } from 'vitest'
import type { ComputeContext } from '../../../../child-cell/compute/manager.js'
import { spawnInstance } from '../../../../child-cell/compute/operations/spawn.js'
import { FakeDriver } from '../../../../child-cell/compute/virt/fake-driver.js'
import { recordFromSpec } from '../../../../shared/cell-link/build-spec.js'
import { systemContext } from '../../../../shared/context.js'
import { createLogger } from '../../../../shared/logging.js'
import { buildSpecFixture } from '../../../helpers/build-spec.js'

/**
 * Issue #9, item 2: spawning a guest that exists is a no-op. A build asked again while it is still
 * spawning is cast to compute again (the first cast may have been lost), so two spawns of one
 * instance can run at once on a host: the second must report the guest as it is, never destroy
 * the guest the first one made, and never report the build as failed (a failed report would send
 * the build to another host or cell while this one runs it).
 */
describe('compute: spawn is idempotent under concurrent attempts', () => {
  it('two spawns of one instance at once: one guest, reported ACTIVE, nothing destroyed or failed', async () => {
    const driver = new FakeDriver({ resources: { vcpus: 8, memoryMb: 8192, localGb: 100 } })
    await driver.init()
    const updates: Array<{ vmState: string; fault?: unknown }> = []
    const c = {
      settings: { host: 'h1' },
      driver,
      // As the conductor does: the first ACTIVE report applies, the second finds the task done.
      conductor: { instanceUpdate: (_ctx: unknown, u: { vmState: string; fault?: unknown }) => Promise.resolve({ applied: updates.push(u) === 1 }) },
      log: createLogger('test'),
    } as unknown as ComputeContext
    const inst = recordFromSpec(buildSpecFixture())
    await Promise.all([spawnInstance(c, systemContext(), inst), spawnInstance(c, systemContext(), inst)])
    expect(await driver.listInstances()).toEqual([inst.uuid])
    expect(updates.map((u) => u.vmState)).toEqual(['active', 'active'])
    expect(updates.every((u) => u.fault === undefined)).toBe(true)
  })
})
