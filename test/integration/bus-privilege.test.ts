import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib'
import { connect } from 'amqplib'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { cellBusTopology, cellBusUsage } from '../../child-cell/bus-usage.js'
import { ConductorManager } from '../../child-cell/conductor/manager.js'
import { cellMigrations } from '../../child-cell/db/migrations.js'
import type { CellSchema } from '../../child-cell/db/schema.js'
import { SchedulerManager } from '../../child-cell/scheduler/manager.js'
import { hostPluginsOf } from '../../child-cell/scheduler/plugins.js'
import type { VhostUser } from '../../shared/bus/amqp-admin.js'
import { amqpUrlForVhost, applyVhostDefinitions, deleteUsers, deleteVhost, ensureVhost, revokeOtherUsers } from '../../shared/bus/amqp-admin.js'
import { AmqpBus } from '../../shared/bus/amqp-bus.js'
import { permissionsFor } from '../../shared/bus/amqp-permissions.js'
import type { ServiceRole } from '../../shared/bus/caller.js'
import { principalName, requireCaller } from '../../shared/bus/caller.js'
import { withCredentials } from '../../shared/config/credentials.js'
import { DEFAULT_SCHEDULER_CONFIG } from '../../shared/config/scheduler-config.js'
import { systemContext } from '../../shared/context.js'
import type { Database } from '../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../shared/db/database.js'
import { createLogger } from '../../shared/logging.js'

const BROKER = 'amqp://127.0.0.1:5672'
const PREFIX = `privtest${randomBytes(3).toString('hex')}`
const SOON = { timeout: 15_000, interval: 20 }

/** A cell's vhost with its least-privilege users, as the production supervisor sets it up. */
interface Cell {
  readonly vhost: string
  readonly users: Map<string, VhostUser>
}

async function setUpCell(name: string, hosts: readonly string[], computeGroups: ReadonlyArray<readonly string[]>): Promise<Cell> {
  const vhost = `${PREFIX}.api.r.${name}`
  const roles: Array<{ key: string; role: ServiceRole; hosts?: readonly string[] }> = [
    { key: 'conductor', role: 'conductor' },
    { key: 'scheduler', role: 'scheduler' },
    { key: 'agent', role: 'agent' },
    ...computeGroups.map((g) => ({ key: `compute:${g.join('+')}`, role: 'compute' as const, hosts: g })),
  ]
  const users = new Map<string, VhostUser>()
  for (const r of roles) {
    users.set(r.key, {
      name: principalName(vhost, r.role, r.hosts),
      password: randomBytes(12).toString('hex'),
      permissions: permissionsFor(cellBusUsage(r.role, hosts, r.hosts)),
    })
  }
  await applyVhostDefinitions({ vhost, topology: cellBusTopology(hosts), users: [...users.values()] })
  return { vhost, users }
}

const urlOf = (cell: Cell, key: string, vhost = cell.vhost): string => {
  const u = cell.users.get(key) as VhostUser
  return amqpUrlForVhost(withCredentials(BROKER, u.name, u.password), vhost)
}

/** The broker's verdict on one operation, run on a channel of its own: `ok` or the close reason. */
async function verdict(conn: ChannelModel, op: (ch: Channel) => Promise<unknown> | void): Promise<string> {
  const ch = await conn.createConfirmChannel()
  const closed = new Promise<string>((resolve) => ch.on('error', (err: Error) => resolve(err.message)))
  ch.on('close', () => undefined)
  try {
    await op(ch)
    // A refused publish closes the channel asynchronously; a confirmed one is accepted.
    await Promise.race([ch.waitForConfirms(), closed])
  } catch {
    // the channel error carries the reason
  }
  const outcome = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r('ok'), 300))])
  await ch.close().catch(() => undefined)
  return outcome
}

/**
 * Least privilege inside a cell, over the real broker: what a compute host's broker user may do,
 * that the broker checks `user_id`, and that the conductor and scheduler refuse a compute host's
 * admin and cross-host calls. (The in-process twin: test/functional/conductor-caller-policy.test.ts.)
 */
describe('per-role RabbitMQ users of a cell', () => {
  let a: Cell
  let b: Cell
  let compute: ChannelModel
  const log = createLogger('test')
  const stops: Array<() => Promise<void>> = []
  let dir: string
  let database: Database<CellSchema>

  beforeAll(async () => {
    a = await setUpCell('a', ['host-a1', 'host-a2'], [['host-a1'], ['host-a2']])
    b = await setUpCell('b', ['host-b1'], [['host-b1']])
    compute = await connect(urlOf(a, 'compute:host-a1'))
    stops.push(() => compute.close())
    dir = mkdtempSync(join(tmpdir(), 'bus-privilege-'))
    database = await openDatabase<CellSchema>(`sqlite:${join(dir, 'cell.db')}`)
    await migrateToLatest(database.db, cellMigrations)
    const conductorBus = await AmqpBus.connect({ url: urlOf(a, 'conductor'), name: 'privtest:conductor', declare: false })
    stops.push(() => conductorBus.close())
    const conductor = new ConductorManager({ db: database.db, bus: conductorBus, cellPath: 'api!r!a', serviceDownMs: 60_000, log })
    await conductor.start()
    stops.push(() => conductor.stop())
    const schedulerBus = await AmqpBus.connect({ url: urlOf(a, 'scheduler'), name: 'privtest:scheduler', declare: false })
    stops.push(() => schedulerBus.close())
    const scheduler = new SchedulerManager({
      db: database.db,
      bus: schedulerBus,
      log,
      settings: { ...hostPluginsOf(DEFAULT_SCHEDULER_CONFIG), hostSubsetSize: 1, serviceDownMs: 60_000, maxClaimRounds: 3 },
    })
    await scheduler.start()
    stops.push(() => scheduler.stop())
  }, 120_000)

  afterAll(async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined)
    await database?.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    for (const c of [a, b]) {
      if (c === undefined) continue
      await deleteVhost(c.vhost)
      await deleteUsers([...c.users.values()].map((u) => u.name))
    }
  }, 120_000)

  const me = (): string => (a.users.get('compute:host-a1') as VhostUser).name
  const body = Buffer.from(JSON.stringify({ method: 'service_heartbeat', args: { host: 'host-a1' }, ctx: { requestId: 'req-x' } }))

  it('lets a compute host publish to the conductor under its own name', async () => {
    expect(await verdict(compute, (ch) => void ch.publish('federation', 'conductor', body, { userId: me() }))).toBe('ok')
  })

  it.each([
    ['the scheduler\'s topic', 'scheduler'],
    ['another host\'s queue', 'compute.host-a2'],
    ['another cell\'s host', 'compute.host-b1'],
    ['the agent\'s topic', 'cell-agent'],
  ])('refuses a compute host publishing to %s', async (_what, routingKey) => {
    expect(await verdict(compute, (ch) => void ch.publish('federation', routingKey, body, { userId: me() }))).toMatch(/ACCESS_REFUSED/)
  })

  it.each([
    ['fanning out to the agents', (ch: Channel) => void ch.publish('cell-agent_fanout', '', body, { userId: me() })],
    ['deleting the conductor\'s queue', (ch: Channel) => ch.deleteQueue('conductor')],
    ['purging the conductor\'s queue', (ch: Channel) => ch.purgeQueue('conductor')],
    ['consuming another host\'s queue', (ch: Channel) => ch.consume('compute.host-a2', () => undefined)],
    ['deleting the topic exchange', (ch: Channel) => ch.deleteExchange('federation')],
    ['declaring a queue of its own', (ch: Channel) => ch.assertQueue('compute.evil', { durable: true })],
  ])('refuses a compute host %s', async (_what, op) => {
    expect(await verdict(compute, op)).toMatch(/ACCESS_REFUSED/)
  })

  it('refuses a message whose user_id is not the connection\'s user', async () => {
    const conductorName = (a.users.get('conductor') as VhostUser).name
    expect(await verdict(compute, (ch) => void ch.publish('federation', 'conductor', body, { userId: conductorName }))).toMatch(/PRECONDITION_FAILED.*user_id/)
  })

  it('refuses a compute host of one cell the vhost of another', async () => {
    // The broker answers connection.open with connection.close (NOT_ALLOWED: no access to the vhost).
    await expect(connect(urlOf(a, 'compute:host-a1', b.vhost))).rejects.toThrow(/ConnectionClose|NOT_ALLOWED|ACCESS_REFUSED/)
    // While b's own compute user may open it.
    const own = await connect(urlOf(b, 'compute:host-b1'))
    await own.close()
  })

  it('takes away what an older set-up granted guest on a cell\'s vhost', async () => {
    await ensureVhost(b.vhost) // the old set-up: guest may do everything
    const guest = await connect(amqpUrlForVhost('amqp://guest:guest@127.0.0.1:5672', b.vhost))
    await guest.close()
    const revoked = await revokeOtherUsers(new Map([[b.vhost, new Set([...b.users.values()].map((u) => u.name))]]))
    expect(revoked).toEqual([`${b.vhost} guest`])
    await expect(connect(amqpUrlForVhost('amqp://guest:guest@127.0.0.1:5672', b.vhost))).rejects.toThrow(/ConnectionClose|NOT_ALLOWED|ACCESS_REFUSED/)
    // The cell's own users keep theirs.
    const own = await connect(urlOf(b, 'compute:host-b1'))
    await own.close()
  })

  describe('the conductor and scheduler, told who calls by the broker', () => {
    let bus: AmqpBus
    beforeAll(async () => {
      bus = await AmqpBus.connect({ url: urlOf(a, 'compute:host-a1'), name: 'privtest:compute', declare: false })
      stops.push(() => bus.close())
    })
    const call = (topic: string, method: string, args: unknown): Promise<unknown> =>
      bus.call(systemContext(), { topic, method, args, timeoutMs: 10_000 })

    it('answer a compute host for its own host', async () => {
      await expect(call('conductor', 'service_heartbeat', { host: 'host-a1', binary: 'nova-compute', topic: 'compute.host-a1' })).resolves.toEqual({ registered: true })
    })

    it.each([
      ['an admin method', 'admin_service_delete', { host: 'host-a2' }],
      ['cell state', 'set_state', { key: 'k', value: 'v' }],
      ['another host\'s heartbeat', 'service_heartbeat', { host: 'host-a2', binary: 'nova-compute', topic: 'compute.host-a2' }],
    ])('refuse a compute host %s', async (_what, method, args) => {
      await expect(call('conductor', method, args)).rejects.toMatchObject({ code: 'forbidden' })
      expect(await database.db.selectFrom('cell_state').selectAll().where('key', '=', 'k').execute()).toEqual([])
      expect(await database.db.selectFrom('services').select('host').execute()).toEqual([{ host: 'host-a1' }])
    })

    it('refuse a message without user_id (anonymous) and one put into their queue by name', async () => {
      const ch = await compute.createChannel()
      const replies: ConsumeMessage[] = []
      await ch.consume('amq.rabbitmq.reply-to', (m) => m !== null && replies.push(m), { noAck: true })
      const admin = Buffer.from(JSON.stringify({ method: 'admin_service_delete', args: { host: 'host-a1' }, ctx: { requestId: 'req-y' } }))
      // Through the default exchange (compute may write it, to answer calls): straight into the queue.
      ch.publish('', 'conductor', admin, { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'anon' })
      const select = Buffer.from(JSON.stringify({ method: 'select_destination', args: {}, ctx: { requestId: 'req-z' } }))
      ch.publish('', 'scheduler', select, { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'sched', userId: me() })
      await vi.waitFor(() => expect(replies.length).toBe(2), SOON)
      const codes = Object.fromEntries(replies.map((m) => [String(m.properties.correlationId), JSON.parse(m.content.toString()).error?.code]))
      expect(codes).toEqual({ anon: 'forbidden', sched: 'forbidden' })
      expect(await database.db.selectFrom('services').select('host').execute()).toEqual([{ host: 'host-a1' }])
      await ch.close()
    })

    it('answer only to direct reply-to addresses, never into a queue the sender names', async () => {
      const ch = await compute.createChannel()
      const admin = Buffer.from(JSON.stringify({ method: 'admin_usage', args: {}, ctx: { requestId: 'req-r' } }))
      ch.publish('federation', 'conductor', admin, { replyTo: 'compute.host-a2', correlationId: 'c', userId: me() })
      // The conductor handled it (a heartbeat after it is answered, on the same queue, in order).
      await expect(call('conductor', 'service_heartbeat', { host: 'host-a1', binary: 'nova-compute', topic: 'compute.host-a1' })).resolves.toBeDefined()
      const queues = execFileSync('rabbitmqctl', ['-q', 'list_queues', '-p', a.vhost, 'name', 'messages', '--no-table-headers'], { encoding: 'utf8' })
      expect(queues).toMatch(/^compute\.host-a2\t0$/m)
      await ch.close()
    })

    it('the agent answers a call slipped into its queue with a refusal, and keeps its connection', async () => {
      const agentBus = await AmqpBus.connect({ url: urlOf(a, 'agent'), name: 'privtest:agent', declare: false })
      stops.push(() => agentBus.close())
      const nudges: string[] = []
      await agentBus.serve({ topic: 'cell-agent', fanout: true, handler: (_c, method, _a, caller) => {
        requireCaller(caller, 'cell-agent', ['conductor', 'operator'])
        nudges.push(method)
        return null
      } })
      const ch = await compute.createChannel()
      const replies: ConsumeMessage[] = []
      await ch.consume('amq.rabbitmq.reply-to', (m) => m !== null && replies.push(m), { noAck: true })
      const nudge = Buffer.from(JSON.stringify({ method: 'outbox_changed', args: {}, ctx: { requestId: 'req-a' } }))
      ch.publish('', 'cell-agent', nudge, { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'agent', userId: me() })
      await vi.waitFor(() => expect(replies.length).toBe(1), SOON)
      expect(JSON.parse(replies[0]?.content.toString() ?? '{}').error?.code).toBe('forbidden')
      expect(nudges).toEqual([])
      expect(agentBus.connected).toBe(true)
      expect(agentBus.generation).toBe(1)
      await ch.close()
    })
  })
})
