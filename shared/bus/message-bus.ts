import type { RequestContext } from '../context.js'
import type { Caller } from './caller.js'

/**
 * The in-cell message bus, modelled on oslo.messaging over AMQP 0-9-1.
 *
 * Topics name a service (`conductor`, `scheduler`, `cell-agent`) or one host (`compute.<host>`).
 * Every server of a topic competes for its messages (one of them handles each call or cast);
 * {@link MessageBus.fanout} reaches every server of the topic instead.
 *
 * Contract (checked by test/contract/message-bus.contract.test.ts for every implementation):
 * - arguments and results are JSON: what cannot survive `JSON.stringify` does not arrive;
 * - `call` resolves with the handler's result or rejects with the handler's error rebuilt through
 *   `fromWire` (same `code`), and rejects with `RpcTimeoutError` when no answer arrives in time;
 * - `cast` resolves once the bus has accepted the message (for AMQP: the broker confirmed it);
 *   a cast to a topic that no server has ever served is kept until one serves it;
 * - the context travels with the message, so the handler sees the caller's request id;
 * - the handler also gets the sender's {@link Caller}, vouched for by the transport and never taken
 *   from the message body: over AMQP the broker-validated `user_id` (the connection's user), on the
 *   in-process bus the identity of the sender's bus view. A sender without one is `anonymous`.
 *   Servers authorise on it (a compute host may not call the conductor's admin methods).
 */
export interface MessageBus {
  /** Starts serving `topic`. Calls and casts to it reach `handler`. */
  serve(args: ServeArgs): Promise<Subscription>
  /** Request/response. `timeoutMs` defaults to the context's remaining deadline, else 60 s. */
  call<T = unknown>(ctx: RequestContext, args: SendArgs & { readonly timeoutMs?: number }): Promise<T>
  /** Fire and forget; at-least-once once it resolves. */
  cast(ctx: RequestContext, args: SendArgs): Promise<void>
  /** Fire and forget to every current server of `topic`. Not kept for servers that start later. */
  fanout(ctx: RequestContext, args: SendArgs): Promise<void>
  /** Stops every subscription and closes connections. Idempotent. */
  close(): Promise<void>
}

/** Where and what to send. */
export interface SendArgs {
  readonly topic: string
  readonly method: string
  readonly args: unknown
}

/** How to serve a topic. */
export interface ServeArgs {
  readonly topic: string
  readonly handler: RpcHandler
  /** Also receive fanouts to this topic (default true). */
  readonly fanout?: boolean
}

/**
 * A server's entry point: dispatches on `method`. Thrown errors travel back to `call`ers. `caller`
 * is who sent the message, as the transport vouches for it (see {@link Caller}).
 */
export type RpcHandler = (ctx: RequestContext, method: string, args: unknown, caller: Caller) => unknown

/** A running subscription. */
export interface Subscription {
  /** Stops receiving. Messages already being handled finish. */
  close(): Promise<void>
}
