/**
 * Least-privilege RabbitMQ permissions for the users of a cell, derived from what each service does
 * on the bus (the layout of amqp-bus.ts: one topic exchange, a quorum queue per topic bound by its
 * name, `<topic>_fanout` exchanges with exclusive server-named queues, direct reply-to).
 *
 * The topology (exchanges, topic queues, bindings) is declared once by the administrator
 * ({@link cellTopology}); services then run with `declare: false`, so none needs configure rights on
 * a shared queue (configure also allows deleting it: a compute host could drop the conductor's
 * queue). What remains:
 * - configure: only the server-named queues of its own fanout subscriptions (`amq.gen-*`);
 * - write: the topic exchange when it sends, with topic permissions limiting the routing keys to the
 *   topics it may reach (a compute host: `conductor` only); the fanout exchanges it fans out to;
 *   `amq.default` when it answers calls (direct reply-to replies go through the default exchange,
 *   which RabbitMQ cannot narrow by routing key, so every server also checks the caller's identity,
 *   see caller.ts `requireCaller`); and the queues it binds (its own);
 * - read: its own queues and what it binds them to.
 *
 * @module
 */

/** What one broker user does on a cell's bus. */
export interface BusUsage {
  /** Topics it serves, and whether it also takes their fanouts. */
  readonly serves: ReadonlyArray<{ readonly topic: string; readonly fanout: boolean }>
  /** Topics it calls or casts to. */
  readonly sendsTo: readonly string[]
  /** Topics it fans out to. */
  readonly fansOutTo: readonly string[]
  /** Whether it answers calls (needs write on the default exchange for direct reply-to). */
  readonly answersCalls: boolean
}

/** `rabbitmqctl set_permissions` / `set_topic_permissions` regexes of one user in one vhost. */
export interface AmqpPermissions {
  readonly configure: string
  readonly write: string
  readonly read: string
  /** Routing keys it may publish with on the topic exchange. */
  readonly topicWrite: string
  readonly topicRead: string
}

/** Exchanges, queues and bindings of a cell's vhost, as RabbitMQ definitions list them. */
export interface Topology {
  readonly exchanges: ReadonlyArray<{ readonly name: string; readonly type: 'topic' | 'fanout' }>
  readonly queues: readonly string[]
  readonly bindings: ReadonlyArray<{ readonly source: string; readonly destination: string; readonly routingKey: string }>
}

/** The topic exchange of amqp-bus.ts (its default `exchange` option). */
export const TOPIC_EXCHANGE = 'federation'
/** What RabbitMQ calls the default exchange in permission checks. */
const DEFAULT_EXCHANGE = 'amq.default'
/** Names of server-named queues (the exclusive queues of fanout subscriptions). */
const SERVER_NAMED = 'amq\\.gen-.*'
/** The regex that matches no resource name. */
const NOTHING = '^$'

/** The fanout exchange of `topic` (amqp-wire.ts `fanoutExchange`: oslo.messaging's naming). */
export function fanoutExchangeOf(topic: string): string {
  return `${topic}_fanout`
}

/** `name` as a regex that matches exactly it. */
export function literal(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')
}

/** An anchored alternation of regex fragments, or {@link NOTHING} when there are none. */
function anyOf(fragments: readonly string[]): string {
  const unique = [...new Set(fragments)]
  return unique.length === 0 ? NOTHING : `^(${unique.join('|')})$`
}

/** The permissions `usage` needs, and nothing more. */
export function permissionsFor(usage: BusUsage): AmqpPermissions {
  const own = usage.serves.map((s) => literal(s.topic))
  const fanoutServed = usage.serves.filter((s) => s.fanout)
  const fanoutQueues = fanoutServed.length > 0 ? [SERVER_NAMED] : []
  return Object.freeze({
    configure: anyOf(fanoutQueues),
    write: anyOf([
      ...(usage.sendsTo.length > 0 ? [literal(TOPIC_EXCHANGE)] : []),
      ...usage.fansOutTo.map((t) => literal(fanoutExchangeOf(t))),
      ...(usage.answersCalls ? [literal(DEFAULT_EXCHANGE)] : []),
      ...fanoutQueues,
    ]),
    read: anyOf([...own, ...fanoutQueues, ...fanoutServed.map((s) => literal(fanoutExchangeOf(s.topic)))]),
    topicWrite: anyOf(usage.sendsTo.map(literal)),
    topicRead: anyOf(own),
  })
}

/**
 * Every exchange, queue and binding the services of a cell use: the topic exchange, one work queue
 * per topic bound with the topic as routing key, and the fanout exchanges of `fanoutTopics` (the
 * administrator's definitions add the work queues' arguments and the dead-letter queue, see
 * amqp-queues.ts).
 */
export function cellTopology(topics: readonly string[], fanoutTopics: readonly string[]): Topology {
  return Object.freeze({
    exchanges: [{ name: TOPIC_EXCHANGE, type: 'topic' as const }, ...fanoutTopics.map((t) => ({ name: fanoutExchangeOf(t), type: 'fanout' as const }))],
    queues: [...topics],
    bindings: topics.map((t) => ({ source: TOPIC_EXCHANGE, destination: t, routingKey: t })),
  })
}
