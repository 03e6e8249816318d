import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import type { ConductorManager } from '../../child-cell/conductor/manager.js'
import { buildInstance } from '../../child-cell/conductor/operations/build.js'
import { expireStuckSpawns, resumeStuckReschedules } from '../../child-cell/conductor/operations/reschedule.js'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import type { InstanceIndexPayload } from '../../shared/cell-link/types.js'
import { systemContext } from '../../shared/context.js'
import { buildSpecFixture } from '../helpers/build-spec.js'
import type { LeafCell } from '../helpers/leaf-cell.js'
import { startLeafCell } from '../helpers/leaf-cell.js'
import { waitFor } from '../helpers/os-client.js'

const CELL = 'api!r!leaf'

/** One leaf cell in-process (conductor, scheduler, three fake hosts on one bus), without an agent. */
describe('a leaf cell reschedules failed spawns', () => {
  let cell: LeafCell
  let database: LeafCell['database']
  let conductor: ConductorManager
  let drivers: LeafCell['drivers']

  const spec = (): BuildSpec =>
    buildSpecFixture({ retry: { attempt: 1, triedCells: ['api!r!other'], faults: ['api!r!other host x: broken'], versionBase: 7 } })
  const breakHost = (host: string): void => {
    const d = drivers.get(host) as FakeDriver
    d.spawn = () => Promise.reject(new Error(`hypervisor on ${host} is broken`))
  }
  const instance = (uuid: string) => database.db.selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirst()

  beforeEach(async () => {
    cell = await startLeafCell({ cellPath: CELL, hosts: [['big', 16384], ['mid', 12288], ['small', 8192]], maxBuildAttempts: 2 })
    ;({ database, conductor, drivers } = cell)
  })

  afterEach(async () => {
    await cell.stop()
  })

  it('numbers a handed-over build from its version base, and tries the next host after a failed spawn', async () => {
    breakHost('big')
    const s = spec()
    const { host } = await buildInstance(conductor.deps, systemContext(), s)
    expect(host).toBe('big')
    const row = await waitFor('ACTIVE', async () => {
      const r = await instance(s.instanceUuid)
      return r?.vm_state === 'active' ? r : undefined
    })
    expect(row.host).toBe('mid')
    expect(row.version).toBeGreaterThan(7)
    const first = await database.db.selectFrom('outbox').select('version').where('instance_uuid', '=', s.instanceUuid).orderBy('id').executeTakeFirstOrThrow()
    expect(first.version).toBe(8)
    // One claim, on the host that runs it; nothing left to retry.
    const allocs = await database.db.selectFrom('allocations').selectAll().execute()
    expect(allocs).toHaveLength(1)
    expect(await database.db.selectFrom('build_specs').selectAll().execute()).toHaveLength(0)
  })

  it('hands the build back up after max_attempts hosts: last event carries the spec and this cell as tried', async () => {
    breakHost('big')
    breakHost('mid')
    const s = spec()
    await buildInstance(conductor.deps, systemContext(), s)
    const row = await waitFor('given up', async () => {
      const r = await instance(s.instanceUuid)
      return r?.deleted === 1 ? r : undefined
    })
    expect(row.vm_state).toBe('error')
    const events = await database.db.selectFrom('outbox').select(['version', 'payload']).where('instance_uuid', '=', s.instanceUuid).orderBy('id').execute()
    const last = JSON.parse(events[events.length - 1]?.payload ?? '{}') as InstanceIndexPayload
    expect(last.reschedule?.triedCells).toEqual(['api!r!other', CELL])
    expect(last.reschedule?.spec.instanceUuid).toBe(s.instanceUuid)
    expect(last.reschedule?.faults).toEqual(['api!r!other host x: broken', expect.stringContaining('host big'), expect.stringContaining('host mid')])
    // Only the last event asks for the reschedule, and nothing stays claimed: 'small' was never tried.
    expect(events.filter((e) => e.payload.includes('"reschedule"'))).toHaveLength(1)
    expect(await database.db.selectFrom('allocations').selectAll().execute()).toHaveLength(0)
    expect(await database.db.selectFrom('build_specs').selectAll().execute()).toHaveLength(0)
    expect(await drivers.get('small')?.listInstances()).toEqual([])
  })

  it('refuses the same build asked again after handing it back (a lost answer): never "placed" with no host', async () => {
    breakHost('big')
    breakHost('mid')
    const s = spec()
    await buildInstance(conductor.deps, systemContext(), s)
    await waitFor('given up', async () => ((await instance(s.instanceUuid))?.deleted === 1 ? true : undefined))
    const outboxBefore = await database.db.selectFrom('outbox').select('id').where('instance_uuid', '=', s.instanceUuid).execute()
    // The parent never heard the first answer (a cut link) and asks again, idempotently by uuid.
    const again = buildInstance(conductor.deps, systemContext(), s)
    await expect(again).rejects.toMatchObject({ code: 'no_valid_host' })
    await expect(again).rejects.toThrow(/handed it back/)
    // The refusal is definite: nothing claimed, nothing spawned, no new event.
    expect(await database.db.selectFrom('allocations').selectAll().execute()).toHaveLength(0)
    expect(await drivers.get('small')?.listInstances()).toEqual([])
    expect(await database.db.selectFrom('outbox').select('id').where('instance_uuid', '=', s.instanceUuid).execute()).toHaveLength(outboxBefore.length)
  })

  it('takes over a spawn that never comes back: rescheduled on another host, and the late host destroys its guest', async () => {
    const big = drivers.get('big') as FakeDriver
    const spawnForReal = big.spawn.bind(big)
    let finishLate: (() => void) | undefined
    let spawnedLate = false
    big.spawn = (args) =>
      new Promise<void>((resolve, reject) => {
        finishLate = () =>
          void spawnForReal(args).then(() => {
            spawnedLate = true
            resolve()
          }, reject)
      })
    const s = spec()
    expect((await buildInstance(conductor.deps, systemContext(), s)).host).toBe('big')
    await waitFor('the spawn on big to hang', async () => (finishLate !== undefined ? true : undefined))
    await new Promise((r) => setTimeout(r, 30))
    // Past the build timeout the conductor treats it as a failed spawn on big.
    expect(await expireStuckSpawns(conductor.deps, systemContext(), 10)).toBe(1)
    const row = await waitFor('ACTIVE on another host', async () => {
      const r = await instance(s.instanceUuid)
      return r?.vm_state === 'active' ? r : undefined
    })
    expect(row.host).toBe('mid')
    // The silent host comes back and finishes: its report is refused, and it destroys its guest.
    finishLate?.()
    await waitFor('the late guest on big destroyed', async () => (spawnedLate && !(await big.listInstances()).includes(s.instanceUuid) ? true : undefined))
    expect(await drivers.get('mid')?.listInstances()).toContain(s.instanceUuid)
    expect((await instance(s.instanceUuid))?.host).toBe('mid')
    expect(await database.db.selectFrom('allocations').selectAll().execute()).toHaveLength(1)
    expect(await expireStuckSpawns(conductor.deps, systemContext(), 10)).toBe(0)
  })

  it('finishes a reschedule a stopped conductor left half done', async () => {
    const s = spec()
    await buildInstance(conductor.deps, systemContext(), s)
    await waitFor('ACTIVE', async () => ((await instance(s.instanceUuid))?.vm_state === 'active' ? true : undefined))
    // As if a conductor stopped between giving the host up and claiming the next one.
    await drivers.get('big')?.destroy(s.instanceUuid)
    await database.db.transaction().execute(async (tx) => {
      const { releaseResources } = await import('../../child-cell/db/claims.js')
      await releaseResources(tx, s.instanceUuid)
      await tx.insertInto('build_specs').values({ instance_uuid: s.instanceUuid, spec: JSON.stringify(s), tried_hosts: '["big"]', faults: '["big: broken"]', created_at: 0 }).execute()
      await tx.updateTable('instances').set({ vm_state: 'building', task_state: 'scheduling', host: null, updated_at: 0 }).where('uuid', '=', s.instanceUuid).execute()
    })
    expect(await resumeStuckReschedules(conductor.deps, systemContext(), 60_000)).toBe(1)
    const row = await waitFor('ACTIVE again', async () => {
      const r = await instance(s.instanceUuid)
      return r?.vm_state === 'active' ? r : undefined
    })
    expect(row.host).toBe('mid')
    expect(await resumeStuckReschedules(conductor.deps, systemContext(), 60_000)).toBe(0)
  })
})
