import type { ChannelModel } from 'amqplib'
import type { Logger } from '../logging.js'

/**
 * The kinds of queues of the AMQP bus, and how they are declared.
 *
 * - Work queues (one per topic: `conductor`, `scheduler`, `compute.<host>`, `cell-agent`) hold what
 *   must not be lost: **quorum queues** (Raft-replicated, always on disk, confirmed once written),
 *   so a broker restart keeps every message it confirmed. A message that comes back unacked (its
 *   consumer died, or its connection dropped, while handling it) is delivered again, at most
 *   {@link DELIVERY_LIMIT} times: a message that crashes every consumer it reaches does not loop
 *   forever. After that, it moves to the dead-letter queue.
 * - The dead-letter queue {@link DEAD_LETTER_QUEUE} (one per vhost, behind the fanout exchange
 *   {@link DEAD_LETTER_EXCHANGE}) keeps what the bus gave up on, for the operator: poison messages
 *   (`x-first-death-reason` `delivery_limit`) and calls that nobody took before their caller
 *   stopped waiting (`expired`). Each carries its `x-death` header (queue, reason, time). Bounded:
 *   the oldest go first past {@link DEAD_LETTER_MAX_LENGTH}, and none stays past a week.
 * - Fanout queues (exclusive, server-named) and direct reply-to stay classic: RabbitMQ has no
 *   exclusive quorum queues, and what they carry may be lost by contract.
 *
 * Every declarer of a queue must pass the same arguments (RabbitMQ refuses a redeclaration with
 * other ones, PRECONDITION_FAILED), so they live here only; `amqp-permissions.ts` puts them in the
 * administrator's definitions.
 *
 * @module
 */

/** How many times a work-queue message is delivered before it is dead-lettered. */
export const DELIVERY_LIMIT = 20
/** The exchange work queues dead-letter to (fanout). */
export const DEAD_LETTER_EXCHANGE = 'federation.dead-letter'
/** The queue that keeps dead-lettered messages for the operator. */
export const DEAD_LETTER_QUEUE = 'federation.dead-letter'
/** At most this many dead letters are kept (the oldest are dropped first). */
export const DEAD_LETTER_MAX_LENGTH = 10_000
/** Dead letters are dropped after this long (ms): a week. */
export const DEAD_LETTER_TTL_MS = 7 * 24 * 3600 * 1000

/** The `x-` arguments of every work queue. */
export function workQueueArguments(): Record<string, unknown> {
  return {
    'x-queue-type': 'quorum',
    'x-delivery-limit': DELIVERY_LIMIT,
    'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE,
  }
}

/** The `x-` arguments of the dead-letter queue. */
export function deadLetterQueueArguments(): Record<string, unknown> {
  return { 'x-queue-type': 'quorum', 'x-max-length': DEAD_LETTER_MAX_LENGTH, 'x-message-ttl': DEAD_LETTER_TTL_MS }
}

/** The 406 a redeclaration with other arguments (another queue type) gets. */
function isPreconditionFailed(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 406
}

/**
 * Declares the work queue of `topic`, bound to `exchange`, with the dead-letter exchange and queue
 * (for a bus that declares its own topology: development and tests; in production the
 * administrator does, see `amqp-admin.ts`). Runs on channels of its own: a refused declaration
 * costs RabbitMQ the channel, which must not be one the bus publishes or consumes on.
 *
 * A queue left from an earlier version as a classic queue cannot become a quorum queue in place:
 * when it is empty and nobody consumes from it, it is deleted and declared again; otherwise it is
 * used as it is (nothing in it is lost) and a warning says so, until a later start finds it idle.
 */
export async function declareWorkQueue(args: { readonly conn: ChannelModel; readonly exchange: string; readonly topic: string; readonly log: Logger }): Promise<void> {
  const { conn, exchange, topic, log } = args
  const attempt = async (fn: (ch: Awaited<ReturnType<ChannelModel['createChannel']>>) => Promise<unknown>): Promise<void> => {
    const ch = await conn.createChannel()
    ch.on('error', () => undefined)
    try {
      await fn(ch)
    } finally {
      await ch.close().catch(() => undefined)
    }
  }
  await attempt(async (ch) => {
    await ch.assertExchange(DEAD_LETTER_EXCHANGE, 'fanout', { durable: true })
    await ch.assertQueue(DEAD_LETTER_QUEUE, { durable: true, arguments: deadLetterQueueArguments() })
    await ch.bindQueue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, '')
  })
  const declare = (ch: Awaited<ReturnType<ChannelModel['createChannel']>>): Promise<unknown> =>
    ch.assertQueue(topic, { durable: true, arguments: workQueueArguments() })
  try {
    await attempt(declare)
  } catch (err) {
    if (!isPreconditionFailed(err)) throw err
    try {
      await attempt((ch) => ch.deleteQueue(topic, { ifEmpty: true, ifUnused: true }))
      await attempt(declare)
      log.info({ topic }, 'classic work queue replaced by a quorum queue')
    } catch (again) {
      if (!isPreconditionFailed(again)) throw again
      await attempt((ch) => ch.checkQueue(topic))
      log.warn({ topic }, 'work queue exists as a classic queue in use: kept as it is until a later start finds it empty and unused')
    }
  }
  await attempt((ch) => ch.bindQueue(topic, exchange, topic))
}
