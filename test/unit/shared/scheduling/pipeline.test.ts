import { describe, expect, it } from 'vitest'
import type { Filter, Weigher } from '../../../../shared/scheduling/plugin.js'
import { PASS, reject } from '../../../../shared/scheduling/plugin.js'
import { NOT_ENOUGH_HOSTS, noValidHostReason, select } from '../../../../shared/scheduling/pipeline.js'

interface Cand {
  readonly id: string
  readonly a: number
  readonly b: number
}
type Spec = { readonly min: number }

const cands = (...rows: [string, number, number][]): Cand[] => rows.map(([id, a, b]) => ({ id, a, b }))
const ids = (ranked: readonly { candidate: Cand }[]) => ranked.map((r) => r.candidate.id)

/** Keeps candidates whose `a` is at least spec.min; counts its calls. */
function minA(): Filter<Cand, Spec> & { calls: number } {
  return {
    name: 'MinAFilter',
    calls: 0,
    passes(c, s) {
      this.calls += 1
      return c.a >= s.min ? PASS : reject(`a=${c.a} < ${s.min}`)
    },
  }
}
const oddB: Filter<Cand, Spec> = { name: 'OddBFilter', passes: (c) => (c.b % 2 === 1 ? PASS : reject('even b')) }
const weighA = (multiplier = 1): Weigher<Cand, Spec> => ({ name: 'AWeigher', multiplier, weigh: (c) => c.a })
const weighB = (multiplier = 1): Weigher<Cand, Spec> => ({ name: 'BWeigher', multiplier, weigh: (c) => c.b })
const spec0: Spec = { min: 0 }

describe('select: filtering', () => {
  it('runs filters in order, each candidate stopping at its first rejection', () => {
    const first: Filter<Cand, Spec> = { name: 'OddBFilter', passes: oddB.passes }
    const second = minA()
    const s = select({ candidates: cands(['x', 1, 1], ['y', 5, 2], ['z', 5, 3], ['w', 0, 5]), spec: { min: 2 }, filters: [first, second], weighers: [] })
    expect(ids(s.ranked)).toEqual(['z'])
    expect(second.calls).toBe(3) // y (even b) never reached MinAFilter
    expect(s.rejections).toEqual({ OddBFilter: 1, MinAFilter: 2 })
    expect([s.considered, s.passed]).toEqual([4, 1])
    expect(Object.keys(s.rejections)).toEqual(['OddBFilter', 'MinAFilter'])
  })

  it('lists every filter, with 0 for those that removed nobody or never ran', () => {
    const s = select({ candidates: cands(['x', 0, 2]), spec: { min: 1 }, filters: [minA(), oddB], weighers: [] })
    expect(s.rejections).toEqual({ MinAFilter: 1, OddBFilter: 0 })
    expect(s.ranked).toEqual([])
  })

  it('explains rejections only when asked, with filter names and reasons', () => {
    const candidates = cands(['x', 0, 1], ['y', 3, 2], ['z', 3, 3])
    expect(select({ candidates, spec: { min: 1 }, filters: [minA(), oddB], weighers: [] }).rejected).toEqual([])
    const s = select({ candidates, spec: { min: 1 }, filters: [minA(), oddB], weighers: [], explain: true })
    expect(s.rejected).toEqual([
      { candidate: candidates[0], filter: 'MinAFilter', reason: 'a=0 < 1' },
      { candidate: candidates[1], filter: 'OddBFilter', reason: 'even b' },
    ])
  })

  it('skips a filter whose appliesTo says it would keep everyone', () => {
    const f = { ...minA(), appliesTo: () => false }
    const s = select({ candidates: cands(['x', 0, 1]), spec: { min: 5 }, filters: [f], weighers: [] })
    expect([f.calls, s.passed, s.rejections.MinAFilter]).toEqual([0, 1, 0])
  })

  it('uses filterAll when present, and passes() when explaining', () => {
    let batches = 0
    const f: Filter<Cand, Spec> = {
      name: 'BatchFilter',
      passes: (c) => (c.a > 1 ? PASS : reject('small')),
      filterAll(candidates, idx, count) {
        batches += 1
        let kept = 0
        for (let r = 0; r < count; r++) if ((candidates[idx[r]!] as Cand).a > 1) idx[kept++] = idx[r]!
        return kept
      },
    }
    const candidates = cands(['x', 1, 0], ['y', 2, 0], ['z', 3, 0])
    expect(ids(select({ candidates, spec: spec0, filters: [f], weighers: [] }).ranked)).toEqual(['y', 'z'])
    expect(batches).toBe(1)
    const explained = select({ candidates, spec: spec0, filters: [f], weighers: [], explain: true })
    expect(batches).toBe(1)
    expect(explained.rejected.map((r) => r.reason)).toEqual(['small'])
  })

  it('keeps candidate order and counts across block boundaries (thousands of candidates)', () => {
    const many = Array.from({ length: 2500 }, (_, i) => ({ id: `c${i}`, a: i, b: i }))
    const s = select({ candidates: many, spec: { min: 1000 }, filters: [oddB, minA()], weighers: [] })
    expect(s.rejections).toEqual({ OddBFilter: 1250, MinAFilter: 500 })
    expect(s.passed).toBe(750)
    expect(ids(s.ranked)).toEqual(many.filter((c) => c.b % 2 === 1 && c.a >= 1000).map((c) => c.id))
  })

  it('handles no candidates at all', () => {
    const s = select({ candidates: [], spec: spec0, filters: [oddB], weighers: [weighA()] })
    expect([s.ranked, s.considered, s.passed, s.rejections]).toEqual([[], 0, 0, { OddBFilter: 0 }])
  })

  it('survives a plugin deciding inside a decision (nested select)', () => {
    const inner = cands(['i1', 1, 1], ['i2', 2, 1])
    const nesting: Filter<Cand, Spec> = {
      name: 'NestingFilter',
      passes: (c) => (select({ candidates: inner, spec: spec0, filters: [], weighers: [weighA()] }).ranked[0]?.candidate.id === 'i2' && c.a > 0 ? PASS : reject('no')),
    }
    const s = select({ candidates: cands(['x', 0, 1], ['y', 1, 1], ['z', 2, 1]), spec: spec0, filters: [nesting], weighers: [weighA()] })
    expect(ids(s.ranked)).toEqual(['z', 'y'])
  })
})

describe('select: weighing', () => {
  it.each([
    { case: 'normalised to [0,1] across survivors', weighers: [weighA()], want: [['c', 1], ['b', 0.5], ['a', 0]] },
    { case: 'multiplied', weighers: [weighA(3)], want: [['c', 3], ['b', 1.5], ['a', 0]] },
    { case: 'summed over weighers', weighers: [weighA(1), weighB(2)], want: [['a', 2], ['c', 1], ['b', 0.5]] },
    { case: 'a negative multiplier stacks', weighers: [weighA(-1)], want: [['a', 0], ['b', -0.5], ['c', -1]] },
    { case: 'a zero multiplier counts for nothing', weighers: [weighA(0), weighB(1)], want: [['a', 1], ['b', 0], ['c', 0]] },
  ])('$case', ({ weighers, want }) => {
    // weighA normalises a=0, 5, 10 to 0, 0.5, 1; weighB normalises b=4, 0, 0 to 1, 0, 0.
    const s = select({ candidates: cands(['a', 0, 4], ['b', 5, 0], ['c', 10, 0]), spec: spec0, filters: [], weighers })
    expect(s.ranked.map((r) => [r.candidate.id, r.weight])).toEqual(want.map(([id, w]) => [id, expect.closeTo(w as number, 12)]))
  })

  it('normalises over the survivors only', () => {
    const s = select({ candidates: cands(['a', 100, 2], ['b', 5, 1], ['c', 10, 1]), spec: spec0, filters: [oddB], weighers: [weighA()] })
    expect(s.ranked.map((r) => [r.candidate.id, r.weight])).toEqual([['c', 1], ['b', 0]])
  })

  it('gives 0 to all when all raw weights are equal, and keeps input order on ties', () => {
    const s = select({ candidates: cands(['a', 7, 0], ['b', 7, 0], ['c', 7, 0]), spec: spec0, filters: [], weighers: [weighA(5)] })
    expect(s.ranked.map((r) => [r.candidate.id, r.weight])).toEqual([['a', 0], ['b', 0], ['c', 0]])
  })

  it('normalises against fixed minval/maxval when a weigher sets them', () => {
    const fixed: Weigher<Cand, Spec> = { name: 'Fixed', multiplier: 1, minval: 0, maxval: 100, weigh: (c) => c.a }
    const s = select({ candidates: cands(['a', 10, 0], ['b', 20, 0]), spec: spec0, filters: [], weighers: [fixed] })
    expect(s.ranked.map((r) => r.weight)).toEqual([expect.closeTo(0.2, 12), expect.closeTo(0.1, 12)])
  })

  it('does not call a weigher that does not apply, or one with multiplier 0', () => {
    let calls = 0
    const counting = (multiplier: number, applies: boolean): Weigher<Cand, Spec> => ({
      name: 'W',
      multiplier,
      appliesTo: () => applies,
      weigh: () => (calls += 1),
    })
    select({ candidates: cands(['a', 1, 0], ['b', 2, 0]), spec: spec0, filters: [], weighers: [counting(1, false), counting(0, true)] })
    expect(calls).toBe(0)
  })

  it('uses weighAll when present', () => {
    const batch: Weigher<Cand, Spec> = {
      name: 'Batch',
      multiplier: 1,
      weigh: () => {
        throw new Error('weigh() called')
      },
      weighAll(candidates, idx, count, _s, out) {
        for (let r = 0; r < count; r++) out[r] = (candidates[idx[r]!] as Cand).b
      },
    }
    const s = select({ candidates: cands(['a', 0, 1], ['b', 0, 3], ['c', 0, 2]), spec: spec0, filters: [], weighers: [batch] })
    expect(ids(s.ranked)).toEqual(['b', 'c', 'a'])
  })
})

describe('select: ranking, subset and limit', () => {
  const five = cands(['a', 1, 0], ['b', 5, 0], ['c', 3, 0], ['d', 4, 0], ['e', 2, 0])

  it('draws the winner among the best host_subset_size, the others keeping their order', () => {
    const s = select({ candidates: five, spec: spec0, filters: [], weighers: [weighA()], subsetSize: 3, random: () => 0.99 })
    expect(ids(s.ranked)).toEqual(['c', 'b', 'd', 'e', 'a'])
  })

  it.each([
    { random: 0, want: 'b' },
    { random: 0.34, want: 'd' },
    { random: 0.67, want: 'c' },
  ])('subset of 3 with random() = $random picks $want', ({ random, want }) => {
    expect(select({ candidates: five, spec: spec0, filters: [], weighers: [weighA()], subsetSize: 3, random: () => random }).ranked[0]?.candidate.id).toBe(want)
  })

  it('is deterministic with subset size 1 (random is never called)', () => {
    const s = select({ candidates: five, spec: spec0, filters: [], weighers: [weighA()], random: () => { throw new Error('random called') } })
    expect(ids(s.ranked)).toEqual(['b', 'd', 'c', 'e', 'a'])
  })

  it('caps the subset at the number of survivors', () => {
    const s = select({ candidates: five.slice(0, 2), spec: spec0, filters: [], weighers: [weighA()], subsetSize: 10, random: () => 0.99 })
    expect(ids(s.ranked)).toEqual(['a', 'b'])
  })

  it('returns only the best `limit`, drawing the subset before cutting', () => {
    expect(ids(select({ candidates: five, spec: spec0, filters: [], weighers: [weighA()], limit: 2 }).ranked)).toEqual(['b', 'd'])
    const s = select({ candidates: five, spec: spec0, filters: [], weighers: [weighA()], limit: 1, subsetSize: 3, random: () => 0.99 })
    expect([ids(s.ranked), s.passed]).toEqual([['c'], 5])
  })

  it.each([
    { case: 'top few of many', n: 3000, limit: 7 },
    { case: 'top many of many', n: 3000, limit: 500 },
    { case: 'all of many (radix sort)', n: 3000, limit: undefined },
    { case: 'all of few (comparator sort)', n: 50, limit: undefined },
  ])('ranks like a stable sort: $case', ({ n, limit }) => {
    let seed = 7
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
    // Few distinct values, negatives and zeros: many ties to keep in input order.
    const many = Array.from({ length: n }, (_, i) => ({ id: `c${i}`, a: Math.floor(rand() * 40) - 20, b: rand() < 0.5 ? 0 : Math.floor(rand() * 3) }))
    const s = select({ candidates: many, spec: spec0, filters: [], weighers: [weighA(1), weighB(-0.25)], ...(limit === undefined ? {} : { limit }) })
    const weightOf = new Map(s.ranked.map((r) => [r.candidate.id, r.weight]))
    const all = select({ candidates: many, spec: spec0, filters: [], weighers: [weighA(1), weighB(-0.25)] })
    const expected = all.ranked
      .map((r, i) => ({ id: r.candidate.id, w: r.weight, at: Number(r.candidate.id.slice(1)), i }))
      .sort((x, y) => y.w - x.w || x.at - y.at)
      .slice(0, limit ?? n)
    expect(ids(s.ranked)).toEqual(expected.map((e) => e.id))
    expect(ids(all.ranked)).toEqual([...all.ranked].sort((x, y) => y.weight - x.weight || Number(x.candidate.id.slice(1)) - Number(y.candidate.id.slice(1))).map((r) => r.candidate.id))
    for (const e of expected) expect(weightOf.get(e.id)).toBe(e.w)
  })
})

describe('noValidHostReason', () => {
  it('says what Nova says, with the filter results of the filters that ran', () => {
    const never: Filter<Cand, Spec> = { name: 'NeverRunFilter', passes: () => reject('unreachable') }
    const s = select({ candidates: cands(['a', 0, 1], ['b', 3, 2], ['c', 3, 4]), spec: { min: 1 }, filters: [minA(), oddB, never], weighers: [] })
    expect(noValidHostReason(s)).toBe(`${NOT_ENOUGH_HOSTS} Filter results: MinAFilter: (start: 3, end: 2), OddBFilter: (start: 2, end: 0)`)
  })

  it('is the bare message when there was no candidate', () => {
    expect(noValidHostReason(select({ candidates: [], spec: spec0, filters: [oddB], weighers: [] }))).toBe('There are not enough hosts available.')
  })
})
