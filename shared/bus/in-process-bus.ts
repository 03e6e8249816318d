import type { RequestContext } from '../context.js'
import { remainingMs } from '../context.js'
import type { WireError } from '../errors.js'
import { fromWire, InternalError, RpcTimeoutError, toWire } from '../errors.js'
import type { Logger } from '../logging.js'
import { createLogger } from '../logging.js'
import { callerOf } from './caller.js'
import type { MessageBus, RpcHandler, SendArgs, ServeArgs, Subscription } from './message-bus.js'

/** Options of {@link InProcessBus}. */
export interface InProcessBusOptions {
  /** Names the bus in logs (default `memory`). */
  readonly name?: string
  /** Where handler errors of casts and fanouts go (nobody else would see them). */
  readonly log?: Logger
  /**
   * Who messages sent through this object come from (default {@link IN_PROCESS_OPERATOR}); a
   * service gets its own identity through {@link InProcessBus.as}.
   */
  readonly principal?: string
}

/**
 * The identity of messages sent through an {@link InProcessBus} itself rather than a view of it:
 * code of the same process that is no cell service (tests, tools), trusted as an operator.
 */
export const IN_PROCESS_OPERATOR = 'in-process'

/** A message waiting for a server: the JSON text, parsed again for every delivery. */
interface Envelope {
  readonly body: string
  /** Who sent it: the sending view's identity (what `user_id` is on the broker). */
  readonly principal: string
  /** Set for calls: where the answer goes. */
  readonly reply?: (reply: string) => void
  /** Set for calls: after this (epoch ms) nobody waits for the answer, so it is not delivered. */
  readonly expiresAt?: number
}

interface Topic {
  readonly servers: Server[]
  readonly queue: Envelope[]
  next: number
  pumpScheduled: boolean
}

/** The default call timeout when neither the caller nor the context gives one (ms). */
const DEFAULT_CALL_TIMEOUT_MS = 60_000

/**
 * The embedded {@link MessageBus}: the whole "broker" is this object, so every service of an
 * embedded cell must share one instance (see `createBus('memory://<cell>')`).
 *
 * It behaves like the AMQP bus where callers could notice: every message goes through
 * `JSON.stringify`/`JSON.parse` (so a handler never shares objects with its caller), delivery is
 * asynchronous (a handler never runs inside the caller's stack), servers of a topic take messages
 * round robin, casts wait in the topic's queue until a server appears, fanouts reach only the
 * servers present, and errors come back rebuilt through `fromWire(toWire(err))`.
 *
 * Identity: every message carries the principal of the object it was sent through (the bus itself,
 * or a view from {@link InProcessBus.as}), and servers get it as the `Caller`, as they get the
 * broker-validated `user_id` over AMQP. Code in one process cannot be kept from lying about
 * itself, so this identity serves to run the same authorisation checks in every test and in the
 * embedded federation; the broker is what enforces it in production.
 *
 * Unlike the broker it keeps nothing when the process dies, and {@link InProcessBus.close} drops
 * queued casts.
 *
 * @example
 * const bus = new InProcessBus()
 * await bus.serve({ topic: 'conductor', handler: (_ctx, method, args) => ({ method, args }) })
 * await bus.call(systemContext(), { topic: 'conductor', method: 'ping', args: {} })
 */
export class InProcessBus implements MessageBus {
  readonly #topics = new Map<string, Topic>()
  readonly #calls = new Set<(err: Error) => void>()
  readonly #log: Logger
  readonly #principal: string
  #closed = false

  constructor(options: InProcessBusOptions = {}) {
    this.#log = options.log ?? createLogger('message-bus', { bus: options.name ?? 'memory' })
    this.#principal = options.principal ?? IN_PROCESS_OPERATOR
  }

  /**
   * The same bus for a service with identity `principal` (see shared/bus/caller.ts for the
   * grammar): what it sends carries that identity. Closing a view closes the bus, as closing any
   * user's bus does.
   */
  as(principal: string): MessageBus {
    return new InProcessBusView(this, principal)
  }

  /** True once {@link InProcessBus.close} was called: the bus accepts nothing any more. */
  get closed(): boolean {
    return this.#closed
  }

  async serve(args: ServeArgs): Promise<Subscription> {
    this.#assertOpen()
    const topic = this.#topic(args.topic)
    const server = new Server(args.topic, args.handler, args.fanout ?? true, this.#log, () => {
      const i = topic.servers.indexOf(server)
      if (i >= 0) topic.servers.splice(i, 1)
    })
    topic.servers.push(server)
    this.#schedulePump(topic)
    return server
  }

  call<T = unknown>(ctx: RequestContext, args: SendArgs & { readonly timeoutMs?: number }): Promise<T> {
    return this.send<T>(this.#principal, ctx, args)
  }

  async cast(ctx: RequestContext, args: SendArgs): Promise<void> {
    this.post(this.#principal, ctx, args)
  }

  async fanout(ctx: RequestContext, args: SendArgs): Promise<void> {
    this.broadcast(this.#principal, ctx, args)
  }

  /** `call` as `principal` (for views). */
  send<T = unknown>(principal: string, ctx: RequestContext, args: SendArgs & { readonly timeoutMs?: number }): Promise<T> {
    const timeoutMs = args.timeoutMs ?? remainingMs(ctx, DEFAULT_CALL_TIMEOUT_MS)
    return new Promise<T>((resolve, reject) => {
      if (this.#closed) return reject(closedError())
      const body = encode(ctx, args)
      let settled = false
      const settle = (fn: () => void): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.#calls.delete(fail)
        fn()
      }
      const fail = (err: Error): void => settle(() => reject(err))
      const timer = setTimeout(
        () => fail(new RpcTimeoutError(`no reply from ${args.topic}.${args.method} within ${timeoutMs} ms`, {
          topic: args.topic, method: args.method, timeoutMs,
        })),
        timeoutMs,
      )
      this.#calls.add(fail)
      this.#enqueue(args.topic, {
        body,
        principal,
        expiresAt: Date.now() + timeoutMs,
        reply: (text) => {
          const reply = JSON.parse(text) as { ok?: unknown; error?: WireError }
          if (reply.error !== undefined) fail(fromWire(reply.error))
          else settle(() => resolve(reply.ok as T))
        },
      })
    })
  }

  /** `cast` as `principal` (for views); throws when closed. */
  post(principal: string, ctx: RequestContext, args: SendArgs): void {
    this.#assertOpen()
    this.#enqueue(args.topic, { body: encode(ctx, args), principal })
  }

  /** `fanout` as `principal` (for views); throws when closed. */
  broadcast(principal: string, ctx: RequestContext, args: SendArgs): void {
    this.#assertOpen()
    const body = encode(ctx, args)
    const servers = this.#topics.get(args.topic)?.servers.filter((s) => s.fanout) ?? []
    for (const s of servers) setImmediate(() => s.deliver({ body, principal }))
  }

  /** Drops every subscription and queued message; pending calls reject. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const t of this.#topics.values()) {
      t.queue.length = 0
      t.servers.length = 0
    }
    this.#topics.clear()
    for (const fail of [...this.#calls]) fail(closedError())
  }

  #enqueue(name: string, env: Envelope): void {
    const topic = this.#topic(name)
    topic.queue.push(env)
    this.#schedulePump(topic)
  }

  #topic(name: string): Topic {
    let t = this.#topics.get(name)
    if (t === undefined) {
      t = { servers: [], queue: [], next: 0, pumpScheduled: false }
      this.#topics.set(name, t)
    }
    return t
  }

  /** Hands queued messages to servers on a later turn of the event loop, never in the sender's stack. */
  #schedulePump(topic: Topic): void {
    if (topic.pumpScheduled || topic.queue.length === 0 || topic.servers.length === 0) return
    topic.pumpScheduled = true
    setImmediate(() => {
      topic.pumpScheduled = false
      while (topic.queue.length > 0 && topic.servers.length > 0 && !this.#closed) {
        const env = topic.queue.shift() as Envelope
        if (env.expiresAt !== undefined && env.expiresAt <= Date.now()) continue
        const server = topic.servers[topic.next++ % topic.servers.length] as Server
        server.deliver(env)
      }
    })
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError()
  }
}

/** A service's handle on an {@link InProcessBus}: the same bus, sending as `principal`. */
class InProcessBusView implements MessageBus {
  readonly #bus: InProcessBus
  readonly #principal: string

  constructor(bus: InProcessBus, principal: string) {
    this.#bus = bus
    this.#principal = principal
  }

  serve(args: ServeArgs): Promise<Subscription> {
    return this.#bus.serve(args)
  }

  call<T = unknown>(ctx: RequestContext, args: SendArgs & { readonly timeoutMs?: number }): Promise<T> {
    return this.#bus.send<T>(this.#principal, ctx, args)
  }

  async cast(ctx: RequestContext, args: SendArgs): Promise<void> {
    this.#bus.post(this.#principal, ctx, args)
  }

  async fanout(ctx: RequestContext, args: SendArgs): Promise<void> {
    this.#bus.broadcast(this.#principal, ctx, args)
  }

  close(): Promise<void> {
    return this.#bus.close()
  }
}

/** One server of a topic: runs the handler for each delivery and tracks what is still running. */
class Server implements Subscription {
  readonly fanout: boolean
  readonly #topic: string
  readonly #handler: RpcHandler
  readonly #log: Logger
  readonly #detach: () => void
  readonly #running = new Set<Promise<void>>()
  #closed = false

  constructor(topic: string, handler: RpcHandler, fanout: boolean, log: Logger, detach: () => void) {
    this.#topic = topic
    this.#handler = handler
    this.fanout = fanout
    this.#log = log
    this.#detach = detach
  }

  deliver(env: Envelope): void {
    if (this.#closed) return
    const run = this.#run(env)
    this.#running.add(run)
    void run.finally(() => this.#running.delete(run))
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#detach()
    await Promise.allSettled([...this.#running])
  }

  async #run(env: Envelope): Promise<void> {
    const msg = JSON.parse(env.body) as { method: string; args?: unknown; ctx: RequestContext }
    let reply: { ok?: unknown; error?: WireError }
    try {
      reply = { ok: await this.#handler(msg.ctx, msg.method, msg.args, callerOf(env.principal)) }
    } catch (err) {
      reply = { error: toWire(err) }
      if (env.reply === undefined) {
        this.#log.warn({ err, requestId: msg.ctx.requestId, topic: this.#topic, method: msg.method }, 'cast handler failed')
      }
    }
    env.reply?.(encodeReply(reply))
  }
}

function encode(ctx: RequestContext, args: SendArgs): string {
  try {
    return JSON.stringify({ method: args.method, args: args.args, ctx })
  } catch (err) {
    throw new InternalError(`arguments of ${args.topic}.${args.method} are not JSON`, err)
  }
}

/** A result that JSON cannot carry (a cycle, a BigInt) becomes the caller's error, as on the wire. */
function encodeReply(reply: { ok?: unknown; error?: WireError }): string {
  try {
    return JSON.stringify(reply)
  } catch (err) {
    return JSON.stringify({ error: toWire(new InternalError(`result is not JSON: ${String(err)}`)) })
  }
}

function closedError(): InternalError {
  return new InternalError('the message bus is closed')
}
