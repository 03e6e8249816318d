import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ReportCoalescer } from '../../../../child-cell/agent/report-coalescer.js'

/**
 * The agent's capacity reports: the first change after a quiet spell goes out on the next tick
 * (no fixed delay per level of the tree), a burst within the gap becomes one more report at its
 * end, and nothing is reported after cancel. Fake timers: no wall-clock time is involved.
 */
describe('ReportCoalescer', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('reports the first change at once and a burst after it once, at the end of the gap', () => {
    let runs = 0
    const c = new ReportCoalescer({ gapMs: 50, run: () => (runs += 1) })
    c.trigger()
    vi.advanceTimersByTime(0)
    expect(runs).toBe(1)
    for (let i = 0; i < 10; i += 1) {
      vi.advanceTimersByTime(3)
      c.trigger()
    }
    expect(runs).toBe(1)
    vi.advanceTimersByTime(50)
    expect(runs).toBe(2)
    // Quiet again: the next change goes out at once.
    vi.advanceTimersByTime(200)
    c.trigger()
    vi.advanceTimersByTime(0)
    expect(runs).toBe(3)
  })

  it('reports nothing after cancel', () => {
    let runs = 0
    const c = new ReportCoalescer({ gapMs: 50, run: () => (runs += 1) })
    c.trigger()
    c.cancel()
    vi.advanceTimersByTime(100)
    expect(runs).toBe(0)
  })
})
