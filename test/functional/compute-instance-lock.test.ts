import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { instanceKeyOf } from '../../child-cell/compute/manager.js'
import { ComputeApi } from '../../child-cell/compute/rpc-api.js'
import type { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import type { ConductorManager } from '../../child-cell/conductor/manager.js'
import { buildInstance } from '../../child-cell/conductor/operations/build.js'
import { ConductorApi } from '../../child-cell/conductor/rpc-api.js'
import { principalName } from '../../shared/bus/caller.js'
import { systemContext } from '../../shared/context.js'
import { buildSpecFixture } from '../helpers/build-spec.js'
import type { LeafCell } from '../helpers/leaf-cell.js'
import { startLeafCell } from '../helpers/leaf-cell.js'
import { waitFor } from '../helpers/os-client.js'

const CELL = 'api!r!leaf'
const HOSTS = ['host-a', 'host-b'] as const

/**
 * Issue #9 (found by the separate-sites rehearsal): a build asked again while its first attempt
 * was still spawning was cast to compute again, and the two attempts raced over the same disk on
 * the host; both failed, and the build was handed back up the tree. Compute now runs the
 * operations of one instance one after the other (Nova's per-instance lock), and a guest spawned
 * for a build the cell has given up on (rescheduled, deleted) is removed again. Each scenario
 * counts, in the driver, how many operations of one instance overlap: never more than one.
 */
describe('compute: one operation at a time per instance', () => {
  let cell: LeafCell
  let database: LeafCell['database']
  let bus: LeafCell['bus']
  let conductor: ConductorManager
  let drivers: LeafCell['drivers']
  /** Most operations of one instance seen at once on one host, by host and instance. */
  const overlap = new Map<string, number>()

  const instance = (uuid: string) => database.db.selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirst()
  const asConductor = () => bus.as(principalName(CELL, 'conductor'))

  /** Makes every spawn and destroy of `driver` take `ms`, counting overlapping ones per instance. */
  const slowAndCounted = (host: string, driver: FakeDriver, ms: number): void => {
    const running = new Map<string, number>()
    const wrap = <A extends unknown[]>(op: (uuid: string, ...rest: A) => Promise<void>, uuidOf: (...args: A) => string) =>
      async (...args: A): Promise<void> => {
        const uuid = uuidOf(...args)
        const now = (running.get(uuid) ?? 0) + 1
        running.set(uuid, now)
        const key = `${host}/${uuid}`
        overlap.set(key, Math.max(overlap.get(key) ?? 0, now))
        try {
          await new Promise((r) => setTimeout(r, ms))
          await op(uuid, ...args)
        } finally {
          running.set(uuid, (running.get(uuid) ?? 1) - 1)
        }
      }
    const spawn = driver.spawn.bind(driver)
    const destroy = driver.destroy.bind(driver)
    driver.spawn = wrap((_u, a) => spawn(a), (a: Parameters<FakeDriver['spawn']>[0]) => a.uuid)
    driver.destroy = wrap((u) => destroy(u), (u: string) => u)
  }

  beforeEach(async () => {
    cell = await startLeafCell({ cellPath: CELL, hosts: [['host-a', 16384], ['host-b', 8192]], maxBuildAttempts: 2 })
    ;({ database, bus, conductor, drivers } = cell)
    for (const [host, driver] of drivers) slowAndCounted(host, driver, 80)
  })

  afterEach(async () => {
    await cell.stop()
    overlap.clear()
  })

  it('a build asked three times while spawning: the attempts run one after the other, one guest, ACTIVE', async () => {
    const s = buildSpecFixture()
    const ctx = systemContext()
    // The agent asks again after a lost answer: the conductor casts the spawn again each time.
    const answers = await Promise.all([buildInstance(conductor.deps, ctx, s), buildInstance(conductor.deps, ctx, s)])
    await buildInstance(conductor.deps, ctx, s)
    const host = answers[0].host
    expect(answers[1].host).toBe(host)
    const row = await waitFor('ACTIVE', async () => {
      const r = await instance(s.instanceUuid)
      return r?.vm_state === 'active' ? r : undefined
    })
    expect(row.host).toBe(host)
    expect(row.fault).toBeNull()
    expect(await drivers.get(host)?.listInstances()).toEqual([s.instanceUuid])
    expect(overlap.get(`${host}/${s.instanceUuid}`)).toBe(1)
  })

  it('a delete that arrives while the guest spawns waits for it, then leaves no guest', async () => {
    const s = buildSpecFixture()
    const ctx = systemContext()
    const { host } = await buildInstance(conductor.deps, ctx, s)
    const api = new ConductorApi(bus.as(principalName(CELL, 'agent')))
    await api.instanceAction(ctx, { uuid: s.instanceUuid, action: 'delete', args: {}, isAdmin: true })
    await waitFor('deleted', async () => ((await instance(s.instanceUuid))?.deleted === 1 ? true : undefined))
    await waitFor('no guest left', async () => ((await drivers.get(host)?.listInstances())?.length === 0 ? true : undefined))
    expect(overlap.get(`${host}/${s.instanceUuid}`)).toBe(1)
  })

  it('a stale spawn for an instance that lives elsewhere (a redelivered cast) removes the guest it made', async () => {
    const s = buildSpecFixture()
    const ctx = systemContext()
    const { host } = await buildInstance(conductor.deps, ctx, s)
    await waitFor('ACTIVE', async () => ((await instance(s.instanceUuid))?.vm_state === 'active' ? true : undefined))
    const other = HOSTS.find((h) => h !== host) as string
    const [record] = await new ConductorApi(bus.as(principalName(CELL, 'agent'))).getInstances(ctx, [s.instanceUuid])
    expect(record).toBeDefined()
    // As if an old cast of this build to the other host were delivered only now.
    await new ComputeApi(asConductor()).buildAndRunInstance(ctx, other, { ...record!, vmState: 'building', taskState: 'spawning', host: other })
    await waitFor('the stale guest spawned and removed', async () => ((overlap.get(`${other}/${s.instanceUuid}`) ?? 0) > 0 && (await drivers.get(other)?.listInstances())?.length === 0 ? true : undefined))
    const row = await instance(s.instanceUuid)
    expect(row?.host).toBe(host)
    expect(row?.vm_state).toBe('active')
    expect(await drivers.get(host)?.listInstances()).toEqual([s.instanceUuid])
  })

  it.each([
    ['build_and_run_instance', { instance: { uuid: 'u1' } }, 'u1'],
    ['terminate_instance', { uuid: 'u2' }, 'u2'],
    ['live_migration_target', { migration: { uuid: 'u3' } }, 'u3'],
    ['get_console_output', { uuid: 'u4' }, undefined],
    ['get_host_uptime', {}, undefined],
    ['power_action', null, undefined],
  ])('%s is locked by %j → %s', (method, args, key) => {
    expect(instanceKeyOf(method, args)).toBe(key)
  })
})
