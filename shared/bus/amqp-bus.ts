// The connection life cycle and the call/cast/fanout paths. Subscriptions live in
// amqp-subscription.ts; the types and wire helpers both share live in amqp-wire.ts.
import { randomUUID } from 'node:crypto'
import type { ConsumeMessage } from 'amqplib'
import { connect } from 'amqplib'
import type { RequestContext } from '../context.js'
import { remainingMs } from '../context.js'
import { fromWire, InternalError, RpcTimeoutError } from '../errors.js'
import type { Logger } from '../logging.js'
import { createLogger } from '../logging.js'
import type { MessageBus, SendArgs, ServeArgs, Subscription } from './message-bus.js'
import { TOPIC_EXCHANGE } from './amqp-permissions.js'
import { AmqpSubscription } from './amqp-subscription.js'
import type { Link, Reply, SubscriptionHost } from './amqp-wire.js'
import { declareWorkQueue } from './amqp-queues.js'
import { closedError, confirmPublish, encode, fanoutExchange, JSON_TYPE, REPLY_TO, urlUser } from './amqp-wire.js'

/** Options of {@link AmqpBus.connect}. */
export interface AmqpBusOptions {
  /** `amqp://user:pass@host:port/<url-encoded vhost>`. */
  readonly url: string
  /** The connection name the broker shows (`connection_name`), e.g. `api!r1!dc1:conductor`. */
  readonly name: string
  /** The topic exchange every topic queue is bound to (default `federation`). */
  readonly exchange?: string
  /** Unacknowledged messages a server may hold per subscription (default 64). */
  readonly prefetch?: number
  /** AMQP heartbeat in seconds when the URL sets none (default 10): finds dead TCP connections. */
  readonly heartbeatSeconds?: number
  /** How long a cast or fanout may wait for a connection plus the broker's confirm (default 30 s). */
  readonly sendTimeoutMs?: number
  /** Reconnect backoff: first delay and cap, doubling with ±25 % jitter (default 100 ms, 5 s). */
  readonly reconnectDelayMs?: { readonly initial?: number; readonly max?: number }
  /** Where disconnections, reconnections and failed cast handlers are reported. */
  readonly log?: Logger
  /**
   * Whether this connection declares the topic exchange, topic queues, fanout exchanges and their
   * bindings it uses (default true). False where an administrator declared them beforehand and the
   * user lacks configure rights on them (production: see amqp-permissions.ts), so that a compute
   * host cannot delete the conductor's queue. Servers still declare their own exclusive fanout
   * queues.
   */
  readonly declare?: boolean
}

interface Config {
  readonly url: string
  /** The user of the URL: the `user_id` of every message (see amqp-wire.ts urlUser). */
  readonly userId: string
  readonly name: string
  readonly exchange: string
  readonly declare: boolean
  readonly prefetch: number
  readonly sendTimeoutMs: number
  readonly initialDelayMs: number
  readonly maxDelayMs: number
}

interface PendingCall {
  readonly resolve: (value: unknown) => void
  readonly reject: (err: Error) => void
  readonly timer: NodeJS.Timeout
  readonly topic: string
  readonly method: string
  /** The connection the request went out on: its loss means the reply cannot arrive. */
  link: Link | undefined
}

interface Waiter {
  readonly resolve: (link: Link) => void
  readonly reject: (err: Error) => void
}

const DEFAULT_CALL_TIMEOUT_MS = 60_000
const CONNECT_TIMEOUT_MS = 10_000

/**
 * The {@link MessageBus} over RabbitMQ, laid out as oslo.messaging does: one topic exchange
 * (`federation`), one quorum queue per topic bound with the topic as routing key (competing
 * consumers; delivery limit and dead-letter queue: amqp-queues.ts), and per topic a fanout exchange `<topic>_fanout` with one exclusive auto-delete queue
 * per server. Calls use direct reply-to (`amq.rabbitmq.reply-to`) with a correlation id and expire
 * in the queue when their caller stops waiting.
 *
 * Identity: every message carries the connection's user as its `user_id` property, which the
 * broker checks, and servers hand it to handlers as the `Caller` (caller.ts). The users and their
 * permissions per cell and role are set up by `amqp-permissions.ts` / `amqp-admin.ts`.
 *
 * Delivery: casts are persistent and resolve once the broker confirmed them; servers ack after the
 * handler finished (a handler's error is an answer, so it is acked too). A server that dies while
 * handling leaves the message unacked and the broker hands it to another server: handlers must
 * tolerate running twice (at-least-once). A message handed back that way too often
 * (`DELIVERY_LIMIT`) is dead-lettered instead of crashing servers forever.
 *
 * Connection loss (broker restart, connection closed by an operator, network): the bus reconnects
 * with exponential backoff until {@link AmqpBus.close}, re-declares everything and re-subscribes
 * every open {@link Subscription} (fanout queues are new ones, so fanouts sent during the gap are
 * lost, as their contract allows).
 * - a cast or fanout issued while disconnected waits for the next connection; one whose confirm was
 *   lost with the connection is published again on the next one (so it may arrive twice). Either
 *   way it gives up with `RpcTimeoutError` after `sendTimeoutMs`;
 * - a call issued while disconnected waits for the next connection within its own timeout;
 * - a call already sent when the connection dropped rejects at once with `RpcTimeoutError`
 *   (`fields.reason = 'connection_lost'`): its reply could only have come back on the lost
 *   connection, and resending could run a non-idempotent operation twice. Like a timeout, the
 *   outcome is unknown.
 *
 * {@link AmqpBus.close} does not wait for running handlers: their messages stay unacked and are
 * redelivered. Close subscriptions first for a graceful stop.
 *
 * @example
 * const bus = await AmqpBus.connect({ url: 'amqp://guest:guest@127.0.0.1:5672/cell1', name: 'cell1:conductor' })
 */
export class AmqpBus implements MessageBus {
  readonly #cfg: Config
  readonly #log: Logger
  readonly #subs = new Set<AmqpSubscription>()
  readonly #calls = new Map<string, PendingCall>()
  readonly #waiters = new Set<Waiter>()
  readonly #host: SubscriptionHost<AmqpSubscription>
  #link: Link | undefined
  #generation = 0
  #closed = false
  #closing: Promise<void> | undefined
  #reconnection: Promise<void> | undefined
  #wake: (() => void) | undefined

  private constructor(cfg: Config, log: Logger) {
    this.#cfg = cfg
    this.#log = log
    this.#host = {
      exchange: cfg.exchange,
      declare: cfg.declare,
      userId: cfg.userId,
      prefetch: cfg.prefetch,
      log,
      drop: (link, reason) => this.#drop(link, reason),
      forget: (sub) => this.#subs.delete(sub),
    }
  }

  /** Connects (once: a broker that is down or refuses us is a start-up error) and returns the bus. */
  static async connect(options: AmqpBusOptions): Promise<AmqpBus> {
    const bus = new AmqpBus(compile(options), options.log ?? createLogger('message-bus', { bus: options.name }))
    await bus.#open()
    return bus
  }

  /** How many connections this bus has made so far: 1 after connect, +1 per reconnection. */
  get generation(): number {
    return this.#generation
  }

  /** Whether a connection is up right now. */
  get connected(): boolean {
    return this.#link !== undefined
  }

  async serve(args: ServeArgs): Promise<Subscription> {
    if (this.#closed) throw closedError()
    const sub = new AmqpSubscription(args, this.#host)
    this.#subs.add(sub)
    const link = this.#link
    if (link !== undefined) {
      try {
        await sub.attach(link)
      } catch (err) {
        // A lost connection is not the caller's problem: the reconnection subscribes again.
        if (!link.dead) {
          this.#subs.delete(sub)
          throw err
        }
      }
    }
    return sub
  }

  call<T = unknown>(ctx: RequestContext, args: SendArgs & { readonly timeoutMs?: number }): Promise<T> {
    const timeoutMs = args.timeoutMs ?? remainingMs(ctx, DEFAULT_CALL_TIMEOUT_MS)
    const deadline = Date.now() + timeoutMs
    return new Promise<T>((resolve, reject) => {
      if (this.#closed) return reject(closedError())
      const body = encode(ctx, args)
      const id = randomUUID()
      const timeout = (): RpcTimeoutError =>
        new RpcTimeoutError(`no reply from ${args.topic}.${args.method} within ${timeoutMs} ms`, {
          topic: args.topic, method: args.method, timeoutMs,
        })
      const pending: PendingCall = {
        resolve: resolve as (value: unknown) => void,
        reject,
        topic: args.topic,
        method: args.method,
        link: undefined,
        timer: setTimeout(() => this.#settle(id)?.reject(timeout()), timeoutMs),
      }
      this.#calls.set(id, pending)
      this.#sendCall(id, pending, body, deadline, timeout).catch((err: Error) => this.#settle(id)?.reject(err))
    })
  }

  async cast(ctx: RequestContext, args: SendArgs): Promise<void> {
    await this.#send('cast', encode(ctx, args), args)
  }

  async fanout(ctx: RequestContext, args: SendArgs): Promise<void> {
    await this.#send('fanout', encode(ctx, args), args)
  }

  /** Closes the connection and stops reconnecting; pending calls and sends reject. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    this.#closed = true
    this.#wake?.()
    for (const w of this.#waiters) w.reject(closedError())
    this.#waiters.clear()
    for (const id of [...this.#calls.keys()]) this.#settle(id)?.reject(closedError())
    for (const sub of this.#subs) sub.abandon()
    this.#subs.clear()
    await this.#reconnection
    const link = this.#link
    this.#link = undefined
    if (link !== undefined) {
      link.dead = true
      await link.conn.close().catch(() => undefined)
    }
  }

  async #sendCall(id: string, pending: PendingCall, body: Buffer, deadline: number, timeout: () => Error): Promise<void> {
    for (;;) {
      const link = await this.#waitLink(deadline, timeout)
      if (!this.#calls.has(id)) return
      try {
        await this.#declareQueue(link, pending.topic)
        if (!this.#calls.has(id)) return
        pending.link = link
        link.rpc.publish(this.#cfg.exchange, pending.topic, body, {
          correlationId: id,
          replyTo: REPLY_TO,
          contentType: JSON_TYPE,
          userId: this.#cfg.userId,
          // Nobody waits for the answer after the deadline: let the broker drop the request.
          expiration: String(Math.max(1, deadline - Date.now())),
        })
        return
      } catch (err) {
        // Not sent: safe to try again on the next connection.
        pending.link = undefined
        if (!link.dead) throw err
      }
    }
  }

  async #send(kind: 'cast' | 'fanout', body: Buffer, args: SendArgs): Promise<void> {
    const ms = this.#cfg.sendTimeoutMs
    const deadline = Date.now() + ms
    const timeout = (): RpcTimeoutError =>
      new RpcTimeoutError(`${kind} to ${args.topic}.${args.method} not confirmed by the broker within ${ms} ms`, {
        topic: args.topic, method: args.method, timeoutMs: ms, reason: 'broker_unavailable',
      })
    for (;;) {
      const link = await this.#waitLink(deadline, timeout)
      if (Date.now() >= deadline) throw timeout()
      try {
        if (kind === 'cast') {
          await this.#declareQueue(link, args.topic)
          await withDeadline(confirmPublish(link.pub, this.#cfg.exchange, args.topic, body, true, this.#cfg.userId), deadline, timeout)
        } else {
          const exchange = fanoutExchange(args.topic)
          if (this.#cfg.declare) await this.#declare(link, `x:${exchange}`, () => link.pub.assertExchange(exchange, 'fanout', { durable: true }))
          await withDeadline(confirmPublish(link.pub, exchange, '', body, false, this.#cfg.userId), deadline, timeout)
        }
        return
      } catch (err) {
        if (this.#closed) throw closedError()
        // The connection went away before the broker confirmed: publish again on the next one.
        if (!link.dead) throw err
      }
    }
  }

  #declareQueue(link: Link, topic: string): Promise<void> {
    if (!this.#cfg.declare) return Promise.resolve()
    return this.#declare(link, `q:${topic}`, () => declareWorkQueue({ conn: link.conn, exchange: this.#cfg.exchange, topic, log: this.#log }))
  }

  #declare(link: Link, key: string, make: () => Promise<unknown>): Promise<void> {
    let done = link.declared.get(key)
    if (done === undefined) {
      done = make().then(() => undefined)
      link.declared.set(key, done)
      done.catch(() => link.declared.delete(key))
    }
    return done
  }

  #onReply(msg: ConsumeMessage | null, link: Link): void {
    if (msg === null) return this.#drop(link, new Error('the broker cancelled the reply consumer'))
    const call = this.#settle(String(msg.properties.correlationId))
    if (call === undefined) return
    let reply: Reply
    try {
      reply = JSON.parse(msg.content.toString('utf8')) as Reply
    } catch (err) {
      return call.reject(new InternalError(`unreadable reply from ${call.topic}.${call.method}`, err))
    }
    if (reply.error !== undefined) call.reject(fromWire(reply.error))
    else call.resolve(reply.ok)
  }

  /** Forgets a pending call and stops its timer; undefined when it was already settled. */
  #settle(id: string): PendingCall | undefined {
    const call = this.#calls.get(id)
    if (call === undefined) return undefined
    this.#calls.delete(id)
    clearTimeout(call.timer)
    return call
  }

  #waitLink(deadline: number, timeout: () => Error): Promise<Link> {
    if (this.#closed) return Promise.reject(closedError())
    if (this.#link !== undefined) return Promise.resolve(this.#link)
    return new Promise<Link>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        reject(timeout())
      }, Math.max(0, deadline - Date.now()))
      const waiter: Waiter = {
        resolve: (link) => {
          clearTimeout(timer)
          resolve(link)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      }
      this.#waiters.add(waiter)
    })
  }

  /** Opens a connection with its channels, subscribes every open subscription on it and installs it. */
  async #open(): Promise<Link> {
    // noDelay: without it Nagle's algorithm costs a call 5 ms instead of 0.3 ms. timeout: bounds the
    // TCP and AMQP handshake, so an unreachable broker cannot stall a reconnection or close().
    const conn = await connect(this.#cfg.url, {
      noDelay: true,
      timeout: CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: this.#cfg.name },
    })
    let link: Link | undefined
    conn.on('error', (err: Error) => this.#log.warn({ err: err.message }, 'message bus connection error'))
    conn.on('close', (err?: Error) => {
      if (link !== undefined) this.#drop(link, err ?? new Error('connection closed by the broker'))
    })
    try {
      const rpc = await conn.createChannel()
      const pub = await conn.createConfirmChannel()
      const l: Link = { conn, rpc, pub, declared: new Map(), dead: false }
      link = l
      for (const ch of [rpc, pub]) {
        ch.on('error', (err: Error) => this.#log.warn({ err: err.message }, 'message bus channel error'))
        // Deferred: when the whole connection went, its own close (with the broker's reason) comes first.
        ch.on('close', () => setImmediate(() => this.#drop(l, new Error('channel closed by the broker'))))
      }
      if (this.#cfg.declare) await pub.assertExchange(this.#cfg.exchange, 'topic', { durable: true })
      await rpc.consume(REPLY_TO, (msg) => this.#onReply(msg, l), { noAck: true })
      // Subscriptions added meanwhile are picked up by the next pass; the last pass (nothing left)
      // and the install run without an await in between, so no serve() can slip through.
      for (let todo = this.#unattached(l); todo.length > 0 && !l.dead; todo = this.#unattached(l)) {
        for (const sub of todo) await sub.attach(l)
      }
      if (l.dead) throw new Error('connection lost while subscribing')
      if (this.#closed) throw closedError()
      this.#install(l)
      return l
    } catch (err) {
      if (link !== undefined) link.dead = true
      await conn.close().catch(() => undefined)
      throw err
    }
  }

  #unattached(link: Link): AmqpSubscription[] {
    return [...this.#subs].filter((s) => !s.attachedTo(link))
  }

  #install(link: Link): void {
    this.#link = link
    this.#generation++
    for (const w of this.#waiters) w.resolve(link)
    this.#waiters.clear()
  }

  /** Retires a connection: its pending calls fail, and the bus starts reconnecting if it was current. */
  #drop(link: Link, reason: unknown): void {
    if (link.dead) return
    link.dead = true
    void link.conn.close().catch(() => undefined)
    for (const [id, call] of this.#calls) {
      if (call.link !== link) continue
      this.#settle(id)?.reject(new RpcTimeoutError(
        `connection to the broker lost before ${call.topic}.${call.method} answered; it may or may not have run`,
        { topic: call.topic, method: call.method, reason: 'connection_lost' },
      ))
    }
    if (this.#link !== link) return
    this.#link = undefined
    this.#log.warn({ reason: reason instanceof Error ? reason.message : String(reason) }, 'message bus disconnected')
    this.#startReconnecting()
  }

  #startReconnecting(): void {
    if (this.#closed || this.#reconnection !== undefined) return
    this.#reconnection = this.#reconnect().finally(() => {
      this.#reconnection = undefined
      // The new connection may already be gone again before this loop ended.
      if (this.#link === undefined) this.#startReconnecting()
    })
  }

  async #reconnect(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      const base = Math.min(this.#cfg.maxDelayMs, this.#cfg.initialDelayMs * 2 ** attempt)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, base * (0.75 + Math.random() * 0.5))
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
      if (this.#closed) return
      try {
        await this.#open()
        this.#log.info({ attempt: attempt + 1, generation: this.#generation }, 'message bus reconnected')
        return
      } catch (err) {
        this.#log.warn({ err: err instanceof Error ? err.message : String(err), attempt: attempt + 1 }, 'message bus reconnect failed')
      }
    }
  }
}

function compile(o: AmqpBusOptions): Config {
  const url = new URL(o.url)
  if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(o.heartbeatSeconds ?? 10))
  return Object.freeze({
    url: url.toString(),
    userId: urlUser(o.url),
    name: o.name,
    exchange: o.exchange ?? TOPIC_EXCHANGE,
    declare: o.declare ?? true,
    prefetch: o.prefetch ?? 64,
    sendTimeoutMs: o.sendTimeoutMs ?? 30_000,
    initialDelayMs: o.reconnectDelayMs?.initial ?? 100,
    maxDelayMs: o.reconnectDelayMs?.max ?? 5_000,
  })
}

async function withDeadline<T>(work: Promise<T>, deadline: number, timeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeout()), Math.max(0, deadline - Date.now()))
  })
  try {
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}
