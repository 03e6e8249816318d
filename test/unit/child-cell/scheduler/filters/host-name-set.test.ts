import { describe, expect, it } from 'vitest'
import { HostNameSet } from '../../../../../child-cell/scheduler/filters/host-name-set.js'

describe('HostNameSet', () => {
  it.each([
    { case: 'empty', names: [], probe: 'h1', has: false, count: 0 },
    { case: 'present', names: ['h1', 'h2'], probe: 'h2', has: true, count: 1 },
    { case: 'absent', names: ['h1', 'h2'], probe: 'h3', has: false, count: 0 },
    { case: 'repeats are counted', names: ['h1', 'h2', 'h1', 'h1'], probe: 'h1', has: true, count: 3 },
    { case: 'same ending, other name (sketch collision)', names: ['rack1-node-042'], probe: 'rack2-node-042', has: false, count: 0 },
    { case: 'prefix of a member', names: ['compute-1'], probe: 'compute-', has: false, count: 0 },
    { case: 'empty name', names: [''], probe: '', has: true, count: 1 },
    { case: 'non-ASCII', names: ['hôte-é'], probe: 'hôte-é', has: true, count: 1 },
  ])('$case', ({ names, probe, has, count }) => {
    const set = new HostNameSet(names)
    expect(set.has(probe)).toBe(has)
    expect(set.count(probe)).toBe(count)
  })

  it('is exact over thousands of similar names', () => {
    const members = Array.from({ length: 3000 }, (_, i) => `compute-${String(i * 3).padStart(5, '0')}`)
    const set = new HostNameSet(members)
    expect(set.size).toBe(3000)
    for (let i = 0; i < 9000; i++) {
      expect(set.has(`compute-${String(i).padStart(5, '0')}`)).toBe(i % 3 === 0)
    }
  })
})
