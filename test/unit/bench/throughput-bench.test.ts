import { describe, expect, it } from 'vitest'
import { throughputEmbedded, TINY } from '../../../bench/throughput-bench.js'

/**
 * A tiny-size smoke run of `npm run bench -- throughput` in embedded mode, so that the scenario
 * does not rot: every step runs against a real embedded federation, and the figures have the
 * shape RESULTS.md and the table need. Shape only: no timing is asserted.
 */
describe('throughput bench (tiny smoke run, embedded)', () => {
  it('boots, lists and deletes through the API and reports every figure with its floor', async () => {
    const f = await throughputEmbedded(TINY)
    const servers = TINY.multiA + TINY.sequential + TINY.multiB
    expect(f['embedded.servers']).toBe(servers)
    // The listings saw every server; every server (the polled ones too) was deleted.
    expect(f['embedded.listDetail.servers']).toBe(servers)
    expect(f['embedded.list.servers']).toBe(servers)
    expect(f['embedded.delete.count']).toBe(servers + TINY.polled)
    const numbers = [
      'embedded.floor.grpc.call.p50Ms',
      'embedded.floor.memory.call.p50Ms',
      'embedded.floor.sqlite.commit.p50Ms',
      `embedded.multi${TINY.multiA}.serversPerSecond`,
      `embedded.multi${TINY.multiB}.serversPerSecond`,
      'embedded.sequential.post.p50Ms',
      'embedded.single.postToActive.p50Ms',
      'embedded.single.postToActive.polled.p50Ms',
      'embedded.listDetail.p50Ms',
      'embedded.list.p50Ms',
      'embedded.delete.serversPerSecond',
      'embedded.rss.start.process.MB',
      'embedded.rss.after.process.MB',
      'embedded.ratio.sequential.post.p50Ms',
      'embedded.ratio.delete.serversPerSecond',
      'embedded.eventLoopDelay.p99Ms',
    ]
    for (const k of numbers) {
      expect(typeof f[k], k).toBe('number')
      expect(Number.isFinite(f[k]) && (f[k] as number) > 0, `${k} = ${String(f[k])}`).toBe(true)
    }
  }, 180_000)
})
