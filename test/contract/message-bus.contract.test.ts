import { execFile } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { amqpUrlForVhost, closeConnectionsNamed, deleteVhost, ensureVhost, listConnections } from '../../shared/bus/amqp-admin.js'
import { AmqpBus } from '../../shared/bus/amqp-bus.js'
import { createBus, dropMemoryBus } from '../../shared/bus/create-bus.js'
import type { Caller } from '../../shared/bus/caller.js'
import { IN_PROCESS_OPERATOR, InProcessBus } from '../../shared/bus/in-process-bus.js'
import type { MessageBus, RpcHandler } from '../../shared/bus/message-bus.js'
import type { RequestContext } from '../../shared/context.js'
import { systemContext } from '../../shared/context.js'
import type { AppError } from '../../shared/errors.js'
import { ConflictError, InternalError, InvalidError, RpcTimeoutError } from '../../shared/errors.js'

const BROKER = 'amqp://guest:guest@127.0.0.1:5672'
const VHOST = `test-bus-${randomBytes(4).toString('hex')}`
const URL_ = amqpUrlForVhost(BROKER, VHOST)
/** How long to wait for something that should happen (a bound, not a measurement). */
const SOON = { timeout: 15_000, interval: 20 }

/** One implementation under test: `open` gives a bus on which a test runs its servers and callers. */
interface Transport {
  readonly name: string
  open(): Promise<MessageBus>
  /** The identity the transport vouches for on messages sent through an opened bus. */
  readonly principal: string
}

const topic = (): string => `t-${randomUUID().slice(0, 8)}`
const ctx = (): RequestContext => systemContext()
const uniqueName = (role: string): string => `${VHOST}-${role}-${randomUUID().slice(0, 6)}`

/** A promise the test resolves by hand, to hold a handler in the middle of its work. */
function gate(): { readonly wait: Promise<void>; open(): void } {
  let open = (): void => undefined
  const wait = new Promise<void>((resolve) => {
    open = resolve
  })
  return { wait, open }
}

const gates: Array<{ open(): void }> = []
const opened: MessageBus[] = []
afterEach(async () => {
  for (const g of gates.splice(0)) g.open()
  await Promise.all(opened.splice(0).map((b) => b.close()))
})

beforeAll(async () => {
  await ensureVhost(VHOST)
})
afterAll(async () => {
  await dropMemoryBus()
  await deleteVhost(VHOST)
})

function messageBusContract(t: Transport): void {
  describe(`MessageBus contract: ${t.name}`, () => {
    const open = async (): Promise<MessageBus> => {
      const bus = await t.open()
      opened.push(bus)
      return bus
    }

    it('hands the handler the sender\'s identity as the transport vouches for it, for calls, casts and fanouts', async () => {
      const bus = await open()
      const tp = topic()
      const seen: Array<[string, string | undefined]> = []
      await bus.serve({ topic: tp, handler: (_c, method, _a, caller) => {
        seen.push([method, caller.principal])
        return null
      } })
      await bus.call(ctx(), { topic: tp, method: 'call', args: null })
      await bus.cast(ctx(), { topic: tp, method: 'cast', args: null })
      await bus.fanout(ctx(), { topic: tp, method: 'fanout', args: null })
      await vi.waitFor(() => expect(seen.length).toBe(3), SOON)
      expect(new Map(seen)).toEqual(new Map([['call', t.principal], ['cast', t.principal], ['fanout', t.principal]]))
    })

    it('call returns what the handler returned, without running it in the caller\'s stack', async () => {
      const bus = await open()
      const tp = topic()
      let ran = false
      await bus.serve({ topic: tp, handler: (_c, method, args) => {
        ran = true
        return { method, args }
      } })
      const reply = bus.call(ctx(), { topic: tp, method: 'echo', args: { n: 1 } })
      expect(ran).toBe(false)
      await expect(reply).resolves.toEqual({ method: 'echo', args: { n: 1 } })
      expect(ran).toBe(true)
    })

    it('call rejects with the handler\'s error rebuilt by code', async () => {
      const bus = await open()
      const tp = topic()
      await bus.serve({ topic: tp, handler: (_c, method) => {
        if (method === 'conflict') throw new ConflictError('instance is busy', { instance: 'i-1' })
        throw new Error('disk on fire')
      } })
      const err = (await bus.call(ctx(), { topic: tp, method: 'conflict', args: null }).catch((e: unknown) => e)) as AppError
      expect(err).toBeInstanceOf(ConflictError)
      expect(err).toMatchObject({ code: 'conflict', status: 409, message: 'instance is busy', fields: { instance: 'i-1' } })
      const other = await bus.call(ctx(), { topic: tp, method: 'other', args: null }).catch((e: unknown) => e)
      expect(other).toBeInstanceOf(InternalError)
      expect(other).toMatchObject({ code: 'internal', message: 'disk on fire' })
    })

    it('call rejects with RpcTimeoutError when no answer comes in time', async () => {
      const bus = await open()
      const slow = topic()
      const held = gate()
      gates.push(held)
      await bus.serve({ topic: slow, handler: () => held.wait })
      await expect(bus.call(ctx(), { topic: slow, method: 'm', args: {}, timeoutMs: 200 })).rejects.toBeInstanceOf(RpcTimeoutError)
      // Nobody serves this topic; the timeout comes from the context's deadline.
      const err = await bus.call(systemContext(200), { topic: topic(), method: 'm', args: {} }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(RpcTimeoutError)
      expect(err).toMatchObject({ code: 'rpc_timeout' })
    })

    it('cast resolves and reaches a server', async () => {
      const bus = await open()
      const tp = topic()
      const got: unknown[] = []
      await bus.serve({ topic: tp, handler: (_c, method, args) => void got.push({ method, args }) })
      await expect(bus.cast(ctx(), { topic: tp, method: 'build', args: { id: 7 } })).resolves.toBeUndefined()
      await vi.waitFor(() => expect(got).toEqual([{ method: 'build', args: { id: 7 } }]), SOON)
    })

    it('casts sent before any server exists are delivered once one serves the topic', async () => {
      const bus = await open()
      const tp = topic()
      for (const n of [1, 2, 3]) await bus.cast(ctx(), { topic: tp, method: 'job', args: n })
      const got: unknown[] = []
      await bus.serve({ topic: tp, handler: (_c, _m, args) => void got.push(args) })
      await vi.waitFor(() => expect([...got].sort()).toEqual([1, 2, 3]), SOON)
    })

    it('servers of one topic compete: each gets a share, each message goes to one', async () => {
      const bus = await open()
      const tp = topic()
      const seen = { a: 0, b: 0 }
      await bus.serve({ topic: tp, handler: () => ++seen.a && 'a' })
      await bus.serve({ topic: tp, handler: () => ++seen.b && 'b' })
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => bus.call<string>(ctx(), { topic: tp, method: 'm', args: i })))
      expect(seen.a + seen.b).toBe(20)
      expect(seen.a).toBeGreaterThan(0)
      expect(seen.b).toBeGreaterThan(0)
      expect(replies.filter((r) => r === 'a')).toHaveLength(seen.a)
    })

    it('fanout reaches every server of the topic, once each', async () => {
      const bus = await open()
      const tp = topic()
      const got: string[] = []
      for (const s of ['s1', 's2', 's3']) await bus.serve({ topic: tp, handler: (_c, method) => void got.push(`${s}:${method}`) })
      await bus.fanout(ctx(), { topic: tp, method: 'refresh', args: {} })
      await vi.waitFor(() => expect([...got].sort()).toEqual(['s1:refresh', 's2:refresh', 's3:refresh']), SOON)
    })

    it('fanout is not kept for later servers nor given to servers that opted out', async () => {
      const bus = await open()
      const later = topic()
      const optedOut = topic()
      await bus.fanout(ctx(), { topic: later, method: 'lost', args: {} })
      const got: string[] = []
      await bus.serve({ topic: later, handler: (_c, method) => void got.push(`later:${method}`) })
      await bus.serve({ topic: optedOut, fanout: false, handler: (_c, method) => void got.push(`optedOut:${method}`) })
      await bus.fanout(ctx(), { topic: optedOut, method: 'lost', args: {} })
      // Casts follow the fanouts: once they are in, the fanouts would have been too.
      await bus.cast(ctx(), { topic: later, method: 'cast', args: {} })
      await bus.cast(ctx(), { topic: optedOut, method: 'cast', args: {} })
      await vi.waitFor(() => expect(got).toHaveLength(2), SOON)
      expect([...got].sort()).toEqual(['later:cast', 'optedOut:cast'])
    })

    it('the caller\'s context arrives with the message', async () => {
      const bus = await open()
      const tp = topic()
      let seen: RequestContext | undefined
      await bus.serve({ topic: tp, handler: (c) => {
        seen = c
        return c.requestId
      } })
      const c: RequestContext = { requestId: 'req-abc', userId: 'u1', projectId: 'p1', roles: ['member'], deadline: Date.now() + 30_000 }
      await expect(bus.call(c, { topic: tp, method: 'm', args: null })).resolves.toBe('req-abc')
      expect(seen).toEqual(c)
      await bus.cast({ requestId: 'req-cast' }, { topic: tp, method: 'm', args: null })
      await vi.waitFor(() => expect(seen?.requestId).toBe('req-cast'), SOON)
    })

    it('arguments and results travel as JSON', async () => {
      const bus = await open()
      const tp = topic()
      let seen: unknown
      const handler: RpcHandler = (_c, method, args) => {
        seen = args
        if (method === 'nothing') return undefined
        ;(args as { keep: number }).keep = 99
        return { at: new Date(0), gone: undefined, n: NaN }
      }
      await bus.serve({ topic: tp, handler })
      const args = { keep: 1, gone: undefined, when: new Date(0), list: [undefined, Infinity], nested: { f: () => 1 } }
      const reply = await bus.call(ctx(), { topic: tp, method: 'm', args })
      expect(seen).toStrictEqual({ keep: 99, when: '1970-01-01T00:00:00.000Z', list: [null, null], nested: {} })
      expect(reply).toStrictEqual({ at: '1970-01-01T00:00:00.000Z', n: null })
      expect(args.keep).toBe(1)
      await expect(bus.call(ctx(), { topic: tp, method: 'nothing', args: undefined })).resolves.toBeUndefined()
      expect(seen).toBeUndefined()
    })

    it('a closed subscription finishes what it is handling and gets nothing more', async () => {
      const bus = await open()
      const tp = topic()
      const held = gate()
      gates.push(held)
      const started = gate()
      const first = await bus.serve({ topic: tp, handler: async (_c, method) => {
        started.open()
        await held.wait
        return `first:${method}`
      } })
      const inFlight = bus.call(ctx(), { topic: tp, method: 'slow', args: {} })
      await started.wait
      const closing = first.close()
      held.open()
      await closing
      await expect(inFlight).resolves.toBe('first:slow')
      await expect(first.close()).resolves.toBeUndefined()
      await bus.cast(ctx(), { topic: tp, method: 'after', args: {} })
      const got: string[] = []
      await bus.serve({ topic: tp, handler: (_c, method) => void got.push(`second:${method}`) })
      await vi.waitFor(() => expect(got).toEqual(['second:after']), SOON)
    })

    it('close is idempotent and the closed bus refuses work', async () => {
      const bus = await open()
      await expect(bus.close()).resolves.toBeUndefined()
      await expect(bus.close()).resolves.toBeUndefined()
      await expect(bus.call(ctx(), { topic: topic(), method: 'm', args: {}, timeoutMs: 5_000 })).rejects.toBeInstanceOf(InternalError)
      await expect(bus.cast(ctx(), { topic: topic(), method: 'm', args: {} })).rejects.toBeInstanceOf(InternalError)
    })
  })
}

messageBusContract({ name: 'InProcessBus', open: async () => new InProcessBus(), principal: IN_PROCESS_OPERATOR })
messageBusContract({ name: 'InProcessBus view', open: async () => new InProcessBus().as('cell!x/compute/h1'), principal: 'cell!x/compute/h1' })
messageBusContract({ name: 'AmqpBus', open: () => AmqpBus.connect({ url: URL_, name: uniqueName('contract') }), principal: 'guest' })

describe('InProcessBus identities', () => {
  it('gives each view\'s messages its own identity, and none to an empty one', async () => {
    const bus = new InProcessBus()
    opened.push(bus)
    const tp = topic()
    const seen: Caller[] = []
    await bus.serve({ topic: tp, handler: (_c, _m, _a, caller) => seen.push(caller) })
    await bus.as('api!r!dc1/compute/host-1+host-2').call(ctx(), { topic: tp, method: 'm', args: null })
    await bus.as('api!r!dc1/conductor').call(ctx(), { topic: tp, method: 'm', args: null })
    await bus.as('').call(ctx(), { topic: tp, method: 'm', args: null })
    expect(seen.map((c) => [c.role, c.hosts])).toEqual([['compute', ['host-1', 'host-2']], ['conductor', []], ['anonymous', []]])
  })

  it('carries the identity a service was created with through createBus', async () => {
    const conductor = await createBus({ url: 'memory://api!ident', name: 'c', principal: 'api!ident/conductor' })
    const compute = await createBus({ url: 'memory://api!ident', name: 'h', principal: 'api!ident/compute/h9' })
    let who: Caller | undefined
    await conductor.serve({ topic: 'conductor', handler: (_c, _m, _a, caller) => (who = caller) })
    await compute.call(ctx(), { topic: 'conductor', method: 'm', args: null })
    expect(who).toMatchObject({ principal: 'api!ident/compute/h9', role: 'compute', hosts: ['h9'] })
    await dropMemoryBus('api!ident')
  })
})

describe('AmqpBus on RabbitMQ', () => {
  const connect = async (role: string): Promise<AmqpBus> => {
    const bus = await AmqpBus.connect({ url: URL_, name: uniqueName(role) })
    opened.push(bus)
    return bus
  }
  const named = async (role: string): Promise<{ bus: AmqpBus; name: string }> => {
    const name = uniqueName(role)
    const bus = await AmqpBus.connect({ url: URL_, name })
    opened.push(bus)
    return { bus, name }
  }

  it('lays queues and exchanges out as oslo.messaging does', async () => {
    const bus = await connect('layout')
    const tp = topic()
    await bus.serve({ topic: tp, handler: () => null })
    const run = promisify(execFile)
    const queues = (await run('rabbitmqctl', ['list_queues', '-p', VHOST, 'name', 'durable', 'exclusive', 'type', '-q'])).stdout
    const exchanges = (await run('rabbitmqctl', ['list_exchanges', '-p', VHOST, 'name', 'type', 'durable', '-q'])).stdout
    // Work queues are quorum queues (restart-safe); fanout queues stay exclusive classic ones.
    // (RabbitMQ leaves the `exclusive` column of a quorum queue empty: they never are.)
    expect(queues).toMatch(new RegExp(`^${tp}\\s+true\\s+(?:false\\s+)?quorum$`, 'm'))
    expect(queues).toMatch(/^amq\.gen-\S+\s+false\s+true\s+classic$/m)
    expect(queues).toMatch(/^federation\.dead-letter\s+true\s+(?:false\s+)?quorum$/m)
    expect(exchanges).toMatch(/^federation\s+topic\s+true$/m)
    expect(exchanges).toMatch(/^federation\.dead-letter\s+fanout\s+true$/m)
    expect(exchanges).toMatch(new RegExp(`^${tp}_fanout\\s+fanout\\s+true$`, 'm'))
  })

  it('reconnects after the broker closes its connection; casts around the drop all arrive', async () => {
    const server = await named('server')
    const client = await named('client')
    expect((await listConnections()).filter((c) => c.connectionName === client.name && c.vhost === VHOST)).toHaveLength(1)
    const tp = topic()
    const got = new Set<number>()
    const fanouts: string[] = []
    await server.bus.serve({ topic: tp, handler: (_c, method, args) => {
      if (method === 'cast') got.add(args as number)
      else if (method === 'fan') fanouts.push(method)
      return 'pong'
    } })
    await expect(client.bus.call(ctx(), { topic: tp, method: 'ping', args: null })).resolves.toBe('pong')

    // The client's connection, then the server's, are closed while casts keep flowing.
    let n = 0
    // Every cast must resolve: collect outcomes so a failure reports them all.
    const casts: Array<Promise<unknown>> = []
    const cast = (): Promise<unknown> => client.bus.cast(ctx(), { topic: tp, method: 'cast', args: n++ }).then(() => 'ok', (e: unknown) => e)
    for (const victim of [client, server]) {
      let dropped = false
      const drop = closeConnectionsNamed({ name: victim.name, reason: 'contract test' }).finally(() => {
        dropped = true
      })
      while (!dropped) {
        casts.push(cast())
        await new Promise((r) => setTimeout(r, 5))
      }
      await expect(drop).resolves.toBe(1)
      for (let i = 0; i < 5; i++) casts.push(cast())
      await vi.waitFor(() => expect(victim.bus.generation).toBe(2), SOON)
    }
    expect((await Promise.all(casts)).filter((r) => r !== 'ok')).toEqual([])
    await vi.waitFor(() => expect(got.size).toBe(n), SOON)
    await expect(client.bus.call(ctx(), { topic: tp, method: 'ping', args: null })).resolves.toBe('pong')
    // The server's fanout queue is a new one: fanouts reach it again.
    await client.bus.fanout(ctx(), { topic: tp, method: 'fan', args: null })
    await vi.waitFor(() => expect(fanouts).toEqual(['fan']), SOON)
  })

  it('a call in flight when the connection drops fails as connection_lost', async () => {
    const server = await named('server')
    const client = await named('client')
    const tp = topic()
    const held = gate()
    gates.push(held)
    const started = gate()
    await server.bus.serve({ topic: tp, handler: async () => {
      started.open()
      await held.wait
      return 'late'
    } })
    const call = client.bus.call(ctx(), { topic: tp, method: 'm', args: null, timeoutMs: 30_000 }).catch((e: unknown) => e)
    await started.wait
    await closeConnectionsNamed({ name: client.name })
    const err = await call
    expect(err).toBeInstanceOf(RpcTimeoutError)
    expect(err).toMatchObject({ fields: { reason: 'connection_lost' } })
    await vi.waitFor(() => expect(client.bus.generation).toBe(2), SOON)
    held.open()
    await expect(client.bus.call(ctx(), { topic: tp, method: 'm', args: null })).resolves.toBe('late')
    // Answering the lost caller's old reply address cost the server nothing.
    expect(server.bus.generation).toBe(1)
  })

  it('a cast its server never acked goes to another server when that one dies', async () => {
    const doomed = await connect('doomed')
    const sender = await connect('sender')
    const tp = topic()
    const held = gate()
    gates.push(held)
    const started = gate()
    await doomed.serve({ topic: tp, handler: async () => {
      started.open()
      await held.wait
    } })
    await sender.cast(ctx(), { topic: tp, method: 'job', args: 'job-1' })
    await started.wait
    const got: unknown[] = []
    const survivor = await connect('survivor')
    await survivor.serve({ topic: tp, handler: (_c, _m, args) => void got.push(args) })
    await doomed.close()
    await vi.waitFor(() => expect(got).toEqual(['job-1']), SOON)
  })
})

describe('createBus', () => {
  it('gives every service of a process the same memory bus per name, a new one after close', async () => {
    const a = await createBus({ url: 'memory://api!r1', name: 'conductor' })
    const b = await createBus({ url: 'memory://api!r1', name: 'scheduler' })
    const other = await createBus({ url: 'memory://api!r2', name: 'conductor' })
    expect(a).toBeInstanceOf(InProcessBus)
    expect(b).toBe(a)
    expect(other).not.toBe(a)
    await a.serve({ topic: 'conductor', handler: () => 'shared' })
    await expect(b.call(ctx(), { topic: 'conductor', method: 'm', args: null })).resolves.toBe('shared')
    await a.close()
    const again = await createBus({ url: 'memory://api!r1', name: 'conductor' })
    expect(again).not.toBe(a)
    await dropMemoryBus('api!r1')
    expect(await createBus({ url: 'memory://api!r1', name: 'conductor' })).not.toBe(again)
  })

  it('connects to RabbitMQ for amqp:// and refuses other schemes without echoing secrets', async () => {
    const bus = await createBus({ url: URL_, name: uniqueName('create-bus') })
    opened.push(bus)
    expect(bus).toBeInstanceOf(AmqpBus)
    await bus.serve({ topic: 'create-bus', handler: () => 'over amqp' })
    await expect(bus.call(ctx(), { topic: 'create-bus', method: 'm', args: null })).resolves.toBe('over amqp')
    const err = await createBus({ url: 'kafka://user:s3cret@host', name: 'x' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidError)
    expect((err as Error).message).not.toContain('s3cret')
  })
})

describe('amqp-admin', () => {
  it('builds vhost URLs', () => {
    expect(amqpUrlForVhost(BROKER, 'federation.api.r1')).toBe(`${BROKER}/federation.api.r1`)
    expect(amqpUrlForVhost(`${BROKER}/old`, '/')).toBe(`${BROKER}/%2F`)
  })

  it('creates and deletes vhosts idempotently', async () => {
    const vhost = `${VHOST}-admin`
    await ensureVhost(vhost)
    await ensureVhost(vhost)
    const bus = await AmqpBus.connect({ url: amqpUrlForVhost(BROKER, vhost), name: uniqueName('admin') })
    await bus.close()
    await deleteVhost(vhost)
    await deleteVhost(vhost)
    await expect(AmqpBus.connect({ url: amqpUrlForVhost(BROKER, vhost), name: uniqueName('admin') })).rejects.toThrow()
  })
})
