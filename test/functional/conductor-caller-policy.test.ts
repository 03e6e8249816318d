import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ComputeManager } from '../../child-cell/compute/manager.js'
import { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import { ConductorManager } from '../../child-cell/conductor/manager.js'
import { cellMigrations } from '../../child-cell/db/migrations.js'
import type { CellSchema } from '../../child-cell/db/schema.js'
import { SchedulerManager } from '../../child-cell/scheduler/manager.js'
import { hostPluginsOf } from '../../child-cell/scheduler/plugins.js'
import { principalName } from '../../shared/bus/caller.js'
import { InProcessBus } from '../../shared/bus/in-process-bus.js'
import type { MessageBus } from '../../shared/bus/message-bus.js'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import { DEFAULT_SCHEDULER_CONFIG } from '../../shared/config/scheduler-config.js'
import { systemContext } from '../../shared/context.js'
import type { Database } from '../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../shared/db/database.js'
import { createLogger } from '../../shared/logging.js'
import { buildSpecFixture } from '../helpers/build-spec.js'

const CELL = 'api!r!leaf'
const HOSTS = ['host-a', 'host-b'] as const

/**
 * The conductor (and the other servers of a cell) authorise by the caller the bus vouches for. Here
 * on the in-process bus, where each service has its own identity as in the embedded federation;
 * test/integration/bus-privilege.test.ts runs the same checks over RabbitMQ with broker-validated
 * user ids.
 */
describe('servers of a cell authorise their callers (in-process bus)', () => {
  let dir: string
  let database: Database<CellSchema>
  let bus: InProcessBus
  const stops: Array<() => Promise<void>> = []
  const log = createLogger('test')
  /** Instance uuid by the host it runs on. */
  const onHost = new Map<string, string>()

  const as = (role: 'conductor' | 'agent' | 'scheduler', hosts?: readonly string[]): MessageBus => bus.as(principalName(CELL, role, hosts))
  const computeA = (): MessageBus => bus.as(principalName(CELL, 'compute', ['host-a']))
  const conductor = (b: MessageBus, method: string, args: unknown): Promise<unknown> =>
    b.call(systemContext(), { topic: 'conductor', method, args, timeoutMs: 10_000 })
  const row = (uuid: string) => database.db.selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()
  const spec = (): BuildSpec => buildSpecFixture()

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'caller-policy-'))
    database = await openDatabase<CellSchema>(`sqlite:${join(dir, 'cell.db')}`)
    await migrateToLatest(database.db, cellMigrations)
    bus = new InProcessBus()
    const c = new ConductorManager({ db: database.db, bus: as('conductor'), cellPath: CELL, serviceDownMs: 60_000, log })
    await c.start()
    stops.push(() => c.stop())
    const s = new SchedulerManager({
      db: database.db,
      bus: as('scheduler'),
      log,
      settings: { ...hostPluginsOf(DEFAULT_SCHEDULER_CONFIG), hostSubsetSize: 1, serviceDownMs: 60_000, maxClaimRounds: 3 },
    })
    await s.start()
    stops.push(() => s.stop())
    for (const host of HOSTS) {
      const compute = new ComputeManager({
        bus: bus.as(principalName(CELL, 'compute', [host])),
        driver: new FakeDriver({ resources: { vcpus: 8, memoryMb: 8192, localGb: 100 } }),
        log,
        settings: {
          host, hostIp: '127.0.0.1', availabilityZone: 'nova', cpuAllocationRatio: 1, ramAllocationRatio: 1, diskAllocationRatio: 1,
          reservedHostMemoryMb: 0, reservedHostDiskGb: 0, reportIntervalMs: 60_000, resumeGuestsStateOnHostBoot: true,
        },
      })
      await compute.start()
      stops.push(() => compute.stop())
    }
    // One instance on each host, built the way the agent builds them.
    for (let i = 0; i < 8 && onHost.size < HOSTS.length; i++) {
      const s1 = spec()
      const { host } = (await conductor(as('agent'), 'build_instance', s1)) as { host: string }
      if (!onHost.has(host)) onHost.set(host, s1.instanceUuid)
    }
    expect([...onHost.keys()].sort()).toEqual([...HOSTS])
  }, 60_000)

  afterAll(async () => {
    for (const s of stops.splice(0).reverse()) await s()
    await bus.close()
    await database.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const foreign = (): string => onHost.get('host-b') as string
  const own = (): string => onHost.get('host-a') as string

  it.each([
    ['an admin method', 'admin_service_delete', () => ({ host: 'host-b' })],
    ['another admin method', 'admin_host_uptime', () => ({ host: 'host-b' })],
    ['cell state', 'set_state', () => ({ key: 'cursor:x', value: '99' })],
    ['a build', 'build_instance', () => spec()],
    ['an instance action', 'instance_action', () => ({ uuid: foreign(), action: 'stop', args: {}, isAdmin: true })],
    ['the outbox', 'outbox_ack', () => ({ cursor: 1_000_000 })],
    ['relaying events', 'relay_events', () => ({ events: [] })],
    ['another host\'s heartbeat', 'service_heartbeat', () => ({ host: 'host-b', binary: 'nova-compute', topic: 'compute.host-b' })],
    ['another host\'s inventory', 'compute_node_update', () => ({ host: 'host-b', hostIp: '1.2.3.4', availabilityZone: 'evil', resources: { vcpus: 999, memoryMb: 1, localGb: 1 } })],
    ['another host\'s instance list', 'instances_on_host', () => ({ host: 'host-b' })],
    ['reading another host\'s instance', 'get_instances', () => ({ uuids: [own(), foreign()] })],
    ['updating another host\'s instance', 'instance_update', () => ({
      uuid: foreign(), expectedTaskState: null, vmState: 'error', taskState: null, powerState: 0, event: { name: 'x', result: 'Error', host: 'host-a' },
    })],
    ['reporting its own instance under another host', 'instance_update', () => ({
      uuid: own(), expectedTaskState: null, vmState: 'error', taskState: null, powerState: 0, event: { name: 'x', result: 'Error', host: 'host-b' },
    })],
    ['destroying another host\'s instance', 'instance_destroyed', () => ({ uuid: foreign(), host: 'host-a' })],
    ['destroying it in the other host\'s name', 'instance_destroyed', () => ({ uuid: foreign(), host: 'host-b' })],
  ])('refuses a compute host %s (%s) and changes nothing', async (_what, method, args) => {
    const before = await row(foreign())
    // The outbox writers' lock row (outbox-writer.ts) is stamped by any event written meanwhile
    // (the earlier tests' instances still report): it is no state a call could change.
    const cellState = () => database.db.selectFrom('cell_state').selectAll().where('key', '!=', 'outbox_writer').orderBy('key').execute()
    const state = await cellState()
    const services = await database.db.selectFrom('services').selectAll().orderBy('id').execute()
    await expect(conductor(computeA(), method, args())).rejects.toMatchObject({ code: 'forbidden' })
    expect(await row(foreign())).toEqual(before)
    expect(await cellState()).toEqual(state)
    expect(await database.db.selectFrom('services').selectAll().orderBy('id').execute()).toEqual(services)
  })

  it('lets a compute host do what compute does, for its own host', async () => {
    await expect(conductor(computeA(), 'service_heartbeat', { host: 'host-a', binary: 'nova-compute', topic: 'compute.host-a' })).resolves.toEqual({ registered: false })
    const mine = (await conductor(computeA(), 'instances_on_host', { host: 'host-a' })) as Array<{ uuid: string }>
    expect(mine.map((i) => i.uuid)).toContain(own())
    const got = (await conductor(computeA(), 'get_instances', { uuids: [own()] })) as Array<{ uuid: string }>
    expect(got.map((i) => i.uuid)).toEqual([own()])
  })

  it.each([
    ['instance_update', () => ({ uuid: [own(), foreign()], expectedTaskState: null, vmState: 'error', taskState: null, powerState: 0, event: { name: 'x', result: 'Error', host: 'host-a' } })],
    ['instance_destroyed', () => ({ uuid: { $ne: own() }, host: 'host-a' })],
    ['get_instances', () => ({ uuids: foreign() })],
  ])('refuses a compute host malformed uuids in %s and changes nothing', async (method, args) => {
    const before = await database.db.selectFrom('instances').selectAll().orderBy('uuid').execute()
    await expect(conductor(computeA(), method, args())).rejects.toMatchObject({ code: 'invalid' })
    expect(await database.db.selectFrom('instances').selectAll().orderBy('uuid').execute()).toEqual(before)
  })

  it('refuses a message without identity, whatever the method', async () => {
    await expect(conductor(bus.as(''), 'get_instances', { uuids: [own()] })).rejects.toMatchObject({ code: 'forbidden' })
  })

  it('lets the agent use cell state and admin methods', async () => {
    await conductor(as('agent'), 'set_state', { key: 'policy-test', value: 'v' })
    await expect(conductor(as('agent'), 'get_state', { key: 'policy-test' })).resolves.toBe('v')
  })

  it.each([
    ['the scheduler', 'scheduler', 'select_destination'],
    ['another compute host', 'compute.host-b', 'terminate_instance'],
    ['another compute host (call)', 'compute.host-b', 'get_host_uptime'],
  ])('refuses a compute host calling %s', async (_what, topic, method) => {
    await expect(computeA().call(systemContext(), { topic, method, args: { uuid: foreign() }, timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'forbidden' })
    expect((await row(foreign())).deleted).toBe(0)
  })

  it('the conductor still reaches compute hosts', async () => {
    await expect(as('conductor').call(systemContext(), { topic: 'compute.host-b', method: 'get_host_uptime', args: {}, timeoutMs: 10_000 })).resolves.toMatch(/load average/)
  })
})
