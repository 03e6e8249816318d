import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ComputeManager, instanceKeyOf } from '../../child-cell/compute/manager.js'
import { ComputeApi } from '../../child-cell/compute/rpc-api.js'
import { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import { ConductorManager } from '../../child-cell/conductor/manager.js'
import { buildInstance } from '../../child-cell/conductor/operations/build.js'
import { ConductorApi } from '../../child-cell/conductor/rpc-api.js'
import { cellMigrations } from '../../child-cell/db/migrations.js'
import type { CellSchema } from '../../child-cell/db/schema.js'
import { SchedulerManager } from '../../child-cell/scheduler/manager.js'
import { hostPluginsOf } from '../../child-cell/scheduler/plugins.js'
import { principalName } from '../../shared/bus/caller.js'
import { InProcessBus } from '../../shared/bus/in-process-bus.js'
import { DEFAULT_SCHEDULER_CONFIG } from '../../shared/config/scheduler-config.js'
import { systemContext } from '../../shared/context.js'
import type { Database } from '../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../shared/db/database.js'
import { createLogger } from '../../shared/logging.js'
import { buildSpecFixture } from '../helpers/build-spec.js'
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
  let dir: string
  let database: Database<CellSchema>
  let bus: InProcessBus
  let conductor: ConductorManager
  const drivers = new Map<string, FakeDriver>()
  /** Most operations of one instance seen at once on one host, by host and instance. */
  const overlap = new Map<string, number>()
  const stops: Array<() => Promise<void>> = []

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
    dir = mkdtempSync(join(tmpdir(), 'instance-lock-'))
    database = await openDatabase<CellSchema>(`sqlite:${join(dir, 'cell.db')}`)
    await migrateToLatest(database.db, cellMigrations)
    bus = new InProcessBus()
    const log = createLogger('test')
    conductor = new ConductorManager({ db: database.db, bus: asConductor(), cellPath: CELL, serviceDownMs: 60_000, log, maxBuildAttempts: 2 })
    await conductor.start()
    stops.push(() => conductor.stop())
    const scheduler = new SchedulerManager({
      db: database.db,
      bus: bus.as(principalName(CELL, 'scheduler')),
      log,
      settings: { ...hostPluginsOf(DEFAULT_SCHEDULER_CONFIG), hostSubsetSize: 1, serviceDownMs: 60_000, maxClaimRounds: 3 },
    })
    await scheduler.start()
    stops.push(() => scheduler.stop())
    for (const host of HOSTS) {
      const driver = new FakeDriver({ resources: { vcpus: 8, memoryMb: host === 'host-a' ? 16384 : 8192, localGb: 100 } })
      drivers.set(host, driver)
      const compute = new ComputeManager({
        bus: bus.as(principalName(CELL, 'compute', [host])),
        driver,
        log,
        settings: {
          host, hostIp: '127.0.0.1', availabilityZone: 'nova', cpuAllocationRatio: 1, ramAllocationRatio: 1, diskAllocationRatio: 1,
          reservedHostMemoryMb: 0, reservedHostDiskGb: 0, reportIntervalMs: 60_000, resumeGuestsStateOnHostBoot: true,
        },
      })
      await compute.start()
      stops.push(() => compute.stop())
      slowAndCounted(host, driver, 80)
    }
  })

  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s()
    await bus.close()
    drivers.clear()
    overlap.clear()
    await database.close()
    rmSync(dir, { recursive: true, force: true })
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
