import { describe, expect, it } from 'vitest'
import { memoizeLast, PASS, reject } from '../../../../shared/scheduling/plugin.js'

describe('plugin helpers', () => {
  it('PASS is one frozen verdict; reject carries its reason', () => {
    expect(PASS).toEqual({ pass: true })
    expect(Object.isFrozen(PASS)).toBe(true)
    expect(reject('full')).toEqual({ pass: false, reason: 'full' })
  })

  it('memoizeLast recomputes only when given another object', () => {
    let calls = 0
    const f = memoizeLast((o: { n: number }) => {
      calls += 1
      return o.n * 2
    })
    const a = { n: 1 }
    const b = { n: 1 }
    expect([f(a), f(a), f(b), f(b), f(a)]).toEqual([2, 2, 2, 2, 2])
    expect(calls).toBe(3)
  })
})
