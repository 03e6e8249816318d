import { describe, expect, it } from 'vitest'
import { CellFreeCapacityWeigher } from '../../../../../shared/scheduling/cell-weighers/cell-free-capacity-weigher.js'
import { cell, request } from '../fixtures.js'

describe('CellFreeCapacityWeigher', () => {
  const weigher = CellFreeCapacityWeigher.fromOptions({})

  it.each([
    { case: 'reported count', c: cell({ flavorFits: { f1: { count: 42, maxPerHost: 3 } } }), r: request(), want: 42 },
    {
      case: 'reported count in the requested zone',
      c: cell({ flavorFitsByZone: { edge: { f1: { count: 5, maxPerHost: 1 } } } }),
      r: request({ availabilityZone: 'edge' }),
      want: 5,
    },
    { case: 'unknown flavor: estimated from free totals', c: cell(), r: request({ flavor: { id: 'new', memoryMb: 4096, vcpus: 1, diskGb: 10 } }), want: 4 },
    { case: 'unknown flavor fitting no host', c: cell(), r: request({ flavor: { id: 'new', memoryMb: 9000, vcpus: 1, diskGb: 1 } }), want: 0 },
  ])('$case', ({ c, r, want }) => {
    expect(weigher.weigh(c, r)).toBe(want)
  })

  it('reads capacity_weight_multiplier (default 10.0, as cells v1)', () => {
    expect(weigher.multiplier).toBe(10)
    expect(CellFreeCapacityWeigher.fromOptions({ capacity_weight_multiplier: -1 }).multiplier).toBe(-1)
  })
})
