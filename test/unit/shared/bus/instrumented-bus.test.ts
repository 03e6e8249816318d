import { describe, expect, it } from 'vitest'
import { InProcessBus } from '../../../../shared/bus/in-process-bus.js'
import { instrumentBus } from '../../../../shared/bus/instrumented-bus.js'
import { NotFoundError } from '../../../../shared/errors.js'
import { busMessagesHandled, busMessagesSent, topicLabel } from '../../../../shared/metrics/rpc-metrics.js'
import type { Counter } from 'prom-client'

const ctx = { requestId: 'req-test' }

async function count(counter: Counter<string>, labels: Record<string, string>): Promise<number> {
  const { values } = await counter.get()
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0)
}

describe('instrumentBus', () => {
  it('keeps the implementation visible and returns one proxy per bus', async () => {
    const raw = new InProcessBus({ name: 'instrumented-a' })
    const bus = instrumentBus(raw)
    expect(bus).toBeInstanceOf(InProcessBus)
    expect(instrumentBus(raw)).toBe(bus)
    expect(bus.closed).toBe(false)
    await bus.close()
    expect(raw.closed).toBe(true)
  })

  it('counts calls, casts and handled messages by outcome, with per-host topics collapsed', async () => {
    const bus = instrumentBus(new InProcessBus({ name: 'instrumented-b' }))
    const seen: string[] = []
    await bus.serve({
      topic: 'compute.host-9',
      handler: (c, method) => {
        seen.push(c.requestId)
        if (method === 'missing') throw new NotFoundError('no such thing')
        return 'ok'
      },
    })
    const before = {
      ok: await count(busMessagesSent, { kind: 'call', topic: 'compute', method: 'ping', outcome: 'ok' }),
      missing: await count(busMessagesSent, { kind: 'call', topic: 'compute', method: 'missing', outcome: 'not_found' }),
      handled: await count(busMessagesHandled, { topic: 'compute', method: 'missing', outcome: 'not_found' }),
    }
    await expect(bus.call(ctx, { topic: 'compute.host-9', method: 'ping', args: {} })).resolves.toBe('ok')
    await expect(bus.call(ctx, { topic: 'compute.host-9', method: 'missing', args: {} })).rejects.toBeInstanceOf(NotFoundError)
    await bus.cast(ctx, { topic: 'compute.host-9', method: 'ping', args: {} })
    await expect.poll(() => seen.length).toBe(3)
    expect(seen).toEqual(['req-test', 'req-test', 'req-test'])
    expect(await count(busMessagesSent, { kind: 'call', topic: 'compute', method: 'ping', outcome: 'ok' })).toBe(before.ok + 1)
    expect(await count(busMessagesSent, { kind: 'call', topic: 'compute', method: 'missing', outcome: 'not_found' })).toBe(before.missing + 1)
    expect(await count(busMessagesSent, { kind: 'cast', topic: 'compute', method: 'ping', outcome: 'ok' })).toBeGreaterThanOrEqual(1)
    expect(await count(busMessagesHandled, { topic: 'compute', method: 'missing', outcome: 'not_found' })).toBe(before.handled + 1)
    await bus.close()
  })

  it.each([
    ['conductor', 'conductor'],
    ['compute.r1-dc1-c1', 'compute'],
    ['cell-agent', 'cell-agent'],
  ])('labels topic %s as %s', (topic, label) => {
    expect(topicLabel(topic)).toBe(label)
  })
})
