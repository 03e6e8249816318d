import type { Channel, ConsumeMessage } from 'amqplib'
import { newRequestId } from '../context.js'
import { toWire } from '../errors.js'
import { declareWorkQueue } from './amqp-queues.js'
import { callerOf } from './caller.js'
import type { ServeArgs, Subscription } from './message-bus.js'
import type { Envelope, Link, Reply, SubscriptionHost } from './amqp-wire.js'
import { encodeReply, fanoutExchange, JSON_TYPE, REPLY_TO } from './amqp-wire.js'

/**
 * Internal to the AMQP bus (created by `AmqpBus.serve`): the consumers of one {@link ServeArgs},
 * re-created on every new connection.
 */
export class AmqpSubscription implements Subscription {
  readonly #args: ServeArgs
  readonly #host: SubscriptionHost<AmqpSubscription>
  readonly #running = new Set<Promise<void>>()
  #att: { readonly link: Link; readonly ch: Channel; readonly tags: string[]; closing: boolean } | undefined
  #closed = false
  #closing: Promise<void> | undefined

  constructor(args: ServeArgs, host: SubscriptionHost<AmqpSubscription>) {
    this.#args = args
    this.#host = host
  }

  /** Whether this subscription currently consumes on `link`. */
  attachedTo(link: Link): boolean {
    return this.#att?.link === link
  }

  /** Declares the topic (and fanout) queues on a channel of its own on `link` and starts consuming. */
  async attach(link: Link): Promise<void> {
    const { topic } = this.#args
    const ch = await link.conn.createChannel()
    const att = { link, ch, tags: [] as string[], closing: false }
    ch.on('error', (err: Error) => this.#host.log.warn({ err: err.message, topic }, 'message bus consumer channel error'))
    ch.on('close', () => {
      if (!att.closing) setImmediate(() => this.#host.drop(link, new Error(`consumer channel of ${topic} closed by the broker`)))
    })
    const onMessage = (msg: ConsumeMessage | null): void => this.#onMessage(att, msg)
    await ch.prefetch(this.#host.prefetch)
    if (this.#host.declare) await declareWorkQueue({ conn: link.conn, exchange: this.#host.exchange, topic, log: this.#host.log })
    att.tags.push((await ch.consume(topic, onMessage)).consumerTag)
    if (this.#args.fanout ?? true) {
      const exchange = fanoutExchange(topic)
      if (this.#host.declare) await ch.assertExchange(exchange, 'fanout', { durable: true })
      const q = await ch.assertQueue('', { exclusive: true, autoDelete: true })
      await ch.bindQueue(q.queue, exchange, '')
      att.tags.push((await ch.consume(q.queue, onMessage)).consumerTag)
    }
    if (this.#closed || link.dead) {
      att.closing = true
      await ch.close().catch(() => undefined)
      return
    }
    this.#att = att
  }

  close(): Promise<void> {
    this.#closing ??= this.#stop()
    return this.#closing
  }

  /** The bus is closing: handle nothing more, let the connection's end requeue what is unacked. */
  abandon(): void {
    this.#closed = true
  }

  async #stop(): Promise<void> {
    this.#closed = true
    this.#host.forget(this)
    const att = this.#att
    this.#att = undefined
    if (att !== undefined && !att.link.dead) {
      for (const tag of att.tags) await att.ch.cancel(tag).catch(() => undefined)
    }
    await Promise.allSettled([...this.#running])
    if (att !== undefined && !att.link.dead) {
      att.closing = true
      await att.ch.close().catch(() => undefined)
    }
  }

  #onMessage(att: { readonly link: Link; readonly ch: Channel }, msg: ConsumeMessage | null): void {
    // The broker cancels a consumer whose queue was deleted: start over on a new connection.
    if (msg === null) return this.#host.drop(att.link, new Error(`the broker cancelled the consumer of ${this.#args.topic}`))
    // Left unacked: closing the channel hands it to another server.
    if (this.#closed) return
    const run = this.#handle(att, msg)
    this.#running.add(run)
    void run.finally(() => this.#running.delete(run))
  }

  async #handle(att: { readonly link: Link; readonly ch: Channel }, msg: ConsumeMessage): Promise<void> {
    const { replyTo, correlationId } = msg.properties as { replyTo?: unknown; correlationId?: unknown }
    let reply: Reply
    let env: Envelope | undefined
    try {
      env = JSON.parse(msg.content.toString('utf8')) as Envelope
      // The broker checked user_id against the sender's connection; a message without one is anonymous.
      const userId = (msg.properties as { userId?: unknown }).userId
      const caller = callerOf(typeof userId === 'string' ? userId : undefined)
      reply = { ok: await this.#args.handler(env.ctx ?? { requestId: newRequestId() }, env.method, env.args, caller) }
    } catch (err) {
      reply = { error: toWire(err) }
      if (typeof replyTo !== 'string') {
        this.#host.log.warn({ err, requestId: env?.ctx?.requestId, topic: this.#args.topic, method: env?.method }, 'cast handler failed')
      }
    }
    // A dead connection cannot ack: the broker requeues the message for another server.
    if (att.link.dead) return
    try {
      // Answers go to direct reply-to addresses only: a sender naming a queue as its reply address
      // would otherwise have this server (and its identity) publish into that queue for it.
      if (typeof replyTo === 'string' && replyTo.startsWith(`${REPLY_TO}.`)) {
        att.link.rpc.publish('', replyTo, encodeReply(reply), { correlationId: String(correlationId), contentType: JSON_TYPE, userId: this.#host.userId })
      }
      att.ch.ack(msg)
    } catch (err) {
      this.#host.log.warn({ err, topic: this.#args.topic }, 'could not answer or ack a message')
    }
  }
}
