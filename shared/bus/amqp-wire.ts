/**
 * Internal to the AMQP bus: the types and wire helpers that `amqp-bus.ts` and
 * `amqp-subscription.ts` share. Nothing outside those two files should import this one; the
 * public surface is `AmqpBus` and `AmqpBusOptions` in `amqp-bus.ts`.
 *
 * @module
 */
import type { Channel, ChannelModel, ConfirmChannel, Options } from 'amqplib'
import type { RequestContext } from '../context.js'
import type { WireError } from '../errors.js'
import { InternalError, toWire } from '../errors.js'
import type { Logger } from '../logging.js'
import { fanoutExchangeOf } from './amqp-permissions.js'
import type { SendArgs } from './message-bus.js'

/** Internal to the AMQP bus. One live connection and its shared channels. Replaced, never repaired, when it drops. */
export interface Link {
  readonly conn: ChannelModel
  /** Publishes calls and replies; consumes direct replies (the broker requires the same channel). */
  readonly rpc: Channel
  /** Casts, fanouts and declarations, with publisher confirms. */
  readonly pub: ConfirmChannel
  /** Queues and exchanges already declared on this connection. */
  readonly declared: Map<string, Promise<void>>
  dead: boolean
}

/** Internal to the AMQP bus. What a message carries. */
export interface Envelope {
  readonly method: string
  readonly args?: unknown
  readonly ctx?: RequestContext
}

/** Internal to the AMQP bus. What a reply carries: exactly one of the two. */
export interface Reply {
  readonly ok?: unknown
  readonly error?: WireError
}

/**
 * Internal to the AMQP bus. The bus-side services a subscription needs. `Sub` is the subscription
 * class itself, a parameter so that this file need not import it (no import cycle).
 */
export interface SubscriptionHost<Sub> {
  readonly exchange: string
  /** Whether to declare the topic queue and its binding (see `AmqpBusOptions.declare`). */
  readonly declare: boolean
  /** The connection's user: stamped as `user_id` on every reply (the broker checks it). */
  readonly userId: string
  readonly prefetch: number
  readonly log: Logger
  drop(link: Link, reason: unknown): void
  forget(sub: Sub): void
}

/** Internal to the AMQP bus. Direct reply-to: the broker's pseudo-queue for answers to calls. */
export const REPLY_TO = 'amq.rabbitmq.reply-to'
/** Internal to the AMQP bus. The content type of every message and reply. */
export const JSON_TYPE = 'application/json'

/** Internal to the AMQP bus. The fanout exchange of `topic`, named as oslo.messaging names it. */
export function fanoutExchange(topic: string): string {
  return fanoutExchangeOf(topic)
}

/** Internal to the AMQP bus. The body of a call, cast or fanout; arguments JSON cannot carry are the caller's error. */
export function encode(ctx: RequestContext, args: SendArgs): Buffer {
  try {
    return Buffer.from(JSON.stringify({ method: args.method, args: args.args, ctx }))
  } catch (err) {
    throw new InternalError(`arguments of ${args.topic}.${args.method} are not JSON`, err)
  }
}

/** Internal to the AMQP bus. A result that JSON cannot carry (a cycle, a BigInt) becomes the caller's error. */
export function encodeReply(reply: Reply): Buffer {
  try {
    return Buffer.from(JSON.stringify(reply))
  } catch (err) {
    return Buffer.from(JSON.stringify({ error: toWire(new InternalError(`result is not JSON: ${String(err)}`)) }))
  }
}

/**
 * Internal to the AMQP bus. The user an AMQP URL authenticates as (amqplib's default is `guest`):
 * what every message carries as `user_id`, which the broker refuses unless it is that user.
 */
export function urlUser(url: string): string {
  const user = decodeURIComponent(new URL(url).username)
  return user === '' ? 'guest' : user
}

/**
 * Internal to the AMQP bus. Publishes on a confirm channel and resolves once the broker confirmed.
 * `userId` is the connection's user: receivers take it as the sender's identity.
 */
export function confirmPublish(ch: ConfirmChannel, exchange: string, routingKey: string, body: Buffer, persistent: boolean, userId: string): Promise<void> {
  const options: Options.Publish = { persistent, contentType: JSON_TYPE, userId }
  return new Promise<void>((resolve, reject) => {
    ch.publish(exchange, routingKey, body, options, (err: unknown) => {
      if (err === null || err === undefined) resolve()
      else reject(err instanceof Error ? err : new Error(`the broker refused the message: ${String(err)}`))
    })
  })
}

/** Internal to the AMQP bus. What every operation on a closed bus rejects with. */
export function closedError(): InternalError {
  return new InternalError('the message bus is closed')
}
