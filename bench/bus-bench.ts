import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { amqpUrlForVhost, deleteVhost, ensureVhost } from '../shared/bus/amqp-admin.js'
import { AmqpBus } from '../shared/bus/amqp-bus.js'
import { InProcessBus } from '../shared/bus/in-process-bus.js'
import type { MessageBus } from '../shared/bus/message-bus.js'
import { systemContext } from '../shared/context.js'

/** Sequential operations per measurement, after {@link WARMUP} unmeasured ones. */
const CALLS = 2000
const WARMUP = 200
const TOPIC = 'bench'

/**
 * Message bus costs over loopback, one operation at a time, in milliseconds:
 * - `amqp.call.*`: a call through RabbitMQ (server and caller on separate connections, as two
 *   services are), the floor DESIGN.md quotes (0.35 ms p50 on a 2-core machine);
 * - `amqp.cast.*`: a persistent cast until the broker's confirm;
 * - `memory.call.*`: the same call on the embedded bus (JSON and event-loop turns only).
 * Needs a RabbitMQ at `brokerUrl` and `rabbitmqctl` (a scratch vhost is created, then deleted).
 */
export async function benchBus(args: { readonly brokerUrl?: string } = {}): Promise<Record<string, number>> {
  const vhost = `bench-bus-${randomBytes(4).toString('hex')}`
  await ensureVhost(vhost)
  const url = amqpUrlForVhost(args.brokerUrl ?? 'amqp://guest:guest@127.0.0.1:5672', vhost)
  const buses: MessageBus[] = []
  try {
    const server = await AmqpBus.connect({ url, name: `${vhost}-server` })
    buses.push(server)
    const client = await AmqpBus.connect({ url, name: `${vhost}-client` })
    buses.push(client)
    await server.serve({ topic: TOPIC, handler: (_ctx, _method, a) => a })
    const memory = new InProcessBus()
    buses.push(memory)
    await memory.serve({ topic: TOPIC, handler: (_ctx, _method, a) => a })
    return {
      calls: CALLS,
      ...percentiles('amqp.call', await measure(() => client.call(systemContext(), { topic: TOPIC, method: 'echo', args: { n: 1 } }))),
      ...percentiles('amqp.cast', await measure(() => client.cast(systemContext(), { topic: `${TOPIC}-sink`, method: 'drop', args: { n: 1 } }))),
      ...percentiles('memory.call', await measure(() => memory.call(systemContext(), { topic: TOPIC, method: 'echo', args: { n: 1 } }))),
    }
  } finally {
    for (const b of buses) await b.close()
    await deleteVhost(vhost)
  }
}

async function measure(op: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await op()
  const samples: number[] = []
  for (let i = 0; i < CALLS; i++) {
    const start = performance.now()
    await op()
    samples.push(performance.now() - start)
  }
  return samples
}

function percentiles(prefix: string, samples: readonly number[]): Record<string, number> {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  return {
    [`${prefix}.p50Ms`]: round(at(0.5)),
    [`${prefix}.p95Ms`]: round(at(0.95)),
    [`${prefix}.p99Ms`]: round(at(0.99)),
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}
