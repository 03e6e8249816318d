import { Counter, Histogram } from 'prom-client'
import { LATENCY_BUCKETS, metricsRegistry } from './registry.js'

/**
 * Metrics of messages inside a cell (the bus) and between cells (gRPC). `outcome` is `ok` or the
 * error's stable code (`rpc_timeout`, `not_found`, `cell_unreachable`, ...), so failure kinds can be
 * told apart without parsing logs.
 */

/** Messages sent on a cell bus. `kind` is call, cast or fanout. */
export const busMessagesSent = new Counter({
  name: 'federation_bus_messages_sent_total',
  help: 'Messages sent on a cell message bus, by kind, topic, method and outcome',
  labelNames: ['kind', 'topic', 'method', 'outcome'] as const,
  registers: [metricsRegistry],
})

/** Round-trip time of bus calls, as the caller sees it. */
export const busCallSeconds = new Histogram({
  name: 'federation_bus_call_duration_seconds',
  help: 'Round-trip time of message bus calls, by topic, method and outcome',
  labelNames: ['topic', 'method', 'outcome'] as const,
  buckets: [...LATENCY_BUCKETS],
  registers: [metricsRegistry],
})

/** Messages a server handled (calls, casts and fanouts alike). */
export const busMessagesHandled = new Counter({
  name: 'federation_bus_messages_handled_total',
  help: 'Messages handled by a server of a cell message bus, by topic, method and outcome',
  labelNames: ['topic', 'method', 'outcome'] as const,
  registers: [metricsRegistry],
})

/** Time a server spent handling a message. */
export const busHandleSeconds = new Histogram({
  name: 'federation_bus_handle_duration_seconds',
  help: 'Time spent handling a message bus message, by topic, method and outcome',
  labelNames: ['topic', 'method', 'outcome'] as const,
  buckets: [...LATENCY_BUCKETS],
  registers: [metricsRegistry],
})

/** Unary gRPC calls from a parent cell to a child. */
export const grpcClientCalls = new Counter({
  name: 'federation_grpc_client_calls_total',
  help: 'Unary gRPC calls to child cells, by method and outcome',
  labelNames: ['method', 'outcome'] as const,
  registers: [metricsRegistry],
})

/** Round-trip time of unary gRPC calls to children. */
export const grpcClientCallSeconds = new Histogram({
  name: 'federation_grpc_client_call_duration_seconds',
  help: 'Round-trip time of unary gRPC calls to child cells, by method and outcome',
  labelNames: ['method', 'outcome'] as const,
  buckets: [...LATENCY_BUCKETS],
  registers: [metricsRegistry],
})

/**
 * The `topic` label: per-host topics (`compute.<host>`) collapse to their service so that the
 * number of series does not grow with the number of hosts.
 */
export function topicLabel(topic: string): string {
  const dot = topic.indexOf('.')
  return dot < 0 ? topic : topic.slice(0, dot)
}
