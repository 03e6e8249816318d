import { describe, expect, it } from 'vitest'
import type { Change } from '../../../bench/propagation-bench.js'
import { benchPropagation } from '../../../bench/propagation-bench.js'

/**
 * A tiny-size smoke run of `npm run bench -- propagation` (two boots and their deletes through a
 * three-level tree), so that the scenario does not rot: each change must become visible in the
 * API cell's capacity view. Shape only: no timing is asserted.
 */
describe('propagation bench (tiny smoke run)', () => {
  it('sees every boot and delete on the leaf in the API cell’s capacity view', async () => {
    const changes: Change[] = []
    const f = await benchPropagation(2, (c) => changes.push(c))
    expect(changes.map((c) => c.kind)).toEqual(['boot', 'delete', 'boot', 'delete'])
    for (const c of changes) {
      // A boot takes one m1.tiny of room, a delete gives it back.
      if (c.kind === 'boot') expect(c.after).toBe(c.before - 1)
      else expect(c.after).toBe(c.before + 1)
    }
    expect(f['changes']).toBe(4)
    for (const k of ['boot.toVisible.p50Ms', 'delete.toVisible.p95Ms', 'change.toVisible.p50Ms']) expect(typeof f[k], k).toBe('number')
  }, 120_000)
})
