import { randomBytes, randomUUID } from 'node:crypto'
import { connect } from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { amqpUrlForVhost, applyVhostDefinitions, deleteVhost, ensureVhost, listQueues } from '../../shared/bus/amqp-admin.js'
import { AmqpBus } from '../../shared/bus/amqp-bus.js'
import { cellTopology } from '../../shared/bus/amqp-permissions.js'
import { DEAD_LETTER_QUEUE, DELIVERY_LIMIT, workQueueArguments } from '../../shared/bus/amqp-queues.js'
import { systemContext } from '../../shared/context.js'
import { waitFor } from '../helpers/os-client.js'

const BROKER = 'amqp://guest:guest@127.0.0.1:5672'
const VHOST = `test-quorum-${randomBytes(4).toString('hex')}`
const URL_ = amqpUrlForVhost(BROKER, VHOST)
const topic = (): string => `t-${randomUUID().slice(0, 8)}`

/**
 * Issue #9, broker restarts: work queues are quorum queues with a delivery limit and a dead-letter
 * queue; queues an older version left as classic ones are migrated when that loses nothing.
 */
describe('AMQP work queues: quorum, delivery limit, dead letters', () => {
  const buses: AmqpBus[] = []
  const open = async (): Promise<AmqpBus> => {
    const bus = await AmqpBus.connect({ url: URL_, name: `${VHOST}-${randomUUID().slice(0, 6)}` })
    buses.push(bus)
    return bus
  }
  /** A plain amqplib connection to the test vhost, for what the bus itself never does. */
  const raw = async () => {
    const conn = await connect(URL_)
    const ch = await conn.createChannel()
    return { conn, ch, close: () => conn.close().catch(() => undefined) }
  }
  const typeOf = async (queue: string): Promise<string | undefined> => (await listQueues(VHOST)).find((q) => q.name === queue)?.type

  beforeAll(async () => {
    await ensureVhost(VHOST)
  })
  afterAll(async () => {
    await Promise.all(buses.map((b) => b.close()))
    await deleteVhost(VHOST)
  })

  it('a message that keeps coming back unacked is dead-lettered after the delivery limit, with its origin', async () => {
    const bus = await open()
    const tp = topic()
    // Declares the work queue (quorum, limit, dead-letter exchange) the way a server does.
    const sub = await bus.serve({ topic: tp, handler: () => null, fanout: false })
    await sub.close()
    expect(await typeOf(tp)).toBe('quorum')
    await bus.cast(systemContext(), { topic: tp, method: 'poison', args: { n: 1 } })
    // A consumer that crashes on it: the message returns unacked, every time.
    const r = await raw()
    try {
      let deliveries = 0
      await r.ch.consume(tp, (m) => {
        if (m === null) return
        deliveries += 1
        r.ch.nack(m, false, true)
      })
      const dead = await waitFor('the poison message dead-lettered', async () => (await r.ch.get(DEAD_LETTER_QUEUE)) || undefined, 15_000)
      expect(JSON.parse(dead.content.toString('utf8'))).toMatchObject({ method: 'poison', args: { n: 1 } })
      const headers = dead.properties.headers as Record<string, unknown>
      expect(headers['x-first-death-reason']).toBe('delivery_limit')
      expect(headers['x-first-death-queue']).toBe(tp)
      expect(deliveries).toBe(DELIVERY_LIMIT + 1)
      expect((await r.ch.checkQueue(tp)).messageCount).toBe(0)
      r.ch.ack(dead)
      // Dead-lettered once, not once per delivery.
      expect(await r.ch.get(DEAD_LETTER_QUEUE, { noAck: true })).toBe(false)
    } finally {
      await r.close()
    }
  })

  it('a handler that fails answers with its error and is acked: nothing is redelivered or dead-lettered', async () => {
    const bus = await open()
    const tp = topic()
    let runs = 0
    await bus.serve({ topic: tp, fanout: false, handler: () => {
      runs += 1
      throw new Error('handler failed')
    } })
    await bus.cast(systemContext(), { topic: tp, method: 'm', args: null })
    await waitFor('the cast handled', async () => (runs > 0 ? true : undefined), 15_000)
    const r = await raw()
    try {
      await waitFor('the cast acked', async () => ((await r.ch.checkQueue(tp)).messageCount === 0 ? true : undefined), 15_000)
      // The dead-letter queue is the vhost's: only this topic's letters matter here.
      const deadFrom: unknown[] = []
      for (let m = await r.ch.get(DEAD_LETTER_QUEUE, { noAck: true }); m !== false; m = await r.ch.get(DEAD_LETTER_QUEUE, { noAck: true })) {
        deadFrom.push((m.properties.headers as Record<string, unknown>)['x-first-death-queue'])
      }
      expect(deadFrom.filter((q) => q === tp)).toEqual([])
      expect(runs).toBe(1)
    } finally {
      await r.close()
    }
  })

  it('an empty classic queue of an older version becomes a quorum queue when a server declares it', async () => {
    const tp = topic()
    const r = await raw()
    await r.ch.assertQueue(tp, { durable: true })
    await r.close()
    expect(await typeOf(tp)).toBe('classic')
    const bus = await open()
    const got: unknown[] = []
    await bus.serve({ topic: tp, fanout: false, handler: (_c, _m, args) => void got.push(args) })
    expect(await typeOf(tp)).toBe('quorum')
    await bus.cast(systemContext(), { topic: tp, method: 'm', args: 7 })
    await waitFor('the cast handled', async () => (got.length > 0 ? true : undefined), 15_000)
    expect(got).toEqual([7])
  })

  it('a classic queue still holding messages is kept as it is and served: none of them is lost', async () => {
    const tp = topic()
    const r = await raw()
    await r.ch.assertQueue(tp, { durable: true })
    await r.ch.assertExchange('federation', 'topic', { durable: true })
    await r.ch.bindQueue(tp, 'federation', tp)
    r.ch.sendToQueue(tp, Buffer.from(JSON.stringify({ method: 'm', args: 'old' })), { persistent: true })
    await waitFor('the old message queued', async () => ((await r.ch.checkQueue(tp)).messageCount === 1 ? true : undefined), 15_000)
    await r.close()
    const bus = await open()
    const got: unknown[] = []
    await bus.serve({ topic: tp, fanout: false, handler: (_c, _m, args) => void got.push(args) })
    await bus.cast(systemContext(), { topic: tp, method: 'm', args: 'new' })
    await waitFor('both messages handled', async () => (got.length >= 2 ? true : undefined), 15_000)
    expect(got.sort()).toEqual(['new', 'old'])
    expect(await typeOf(tp)).toBe('classic')
  })

  it("the administrator's definitions declare quorum work queues and migrate an idle classic one", async () => {
    const vhost = `${VHOST}-admin`
    await ensureVhost(vhost)
    try {
      const r = await connect(amqpUrlForVhost(BROKER, vhost))
      const ch = await r.createChannel()
      await ch.assertQueue('conductor', { durable: true })
      await r.close()
      const left = await applyVhostDefinitions({ vhost, topology: cellTopology(['conductor', 'scheduler'], []), users: [] })
      expect(left).toEqual([])
      // import_definitions runs asynchronously in the broker: wait for the queues to be there.
      const wanted = ['conductor quorum', `${DEAD_LETTER_QUEUE} quorum`, 'scheduler quorum']
      const seen = async (): Promise<string[]> =>
        (await listQueues(vhost)).filter((q) => ['conductor', 'scheduler', DEAD_LETTER_QUEUE].includes(q.name)).map((q) => `${q.name} ${q.type}`).sort()
      await waitFor('the quorum queues', async () => ((await seen()).join() === wanted.join() ? true : undefined), 15_000)
      expect(await seen()).toEqual(wanted)
      // A server with the same arguments redeclares it without a PRECONDITION_FAILED.
      const again = await connect(amqpUrlForVhost(BROKER, vhost))
      const ch2 = await again.createChannel()
      await expect(ch2.assertQueue('conductor', { durable: true, arguments: workQueueArguments() })).resolves.toMatchObject({ queue: 'conductor' })
      await again.close()
    } finally {
      await deleteVhost(vhost)
    }
  })
})
