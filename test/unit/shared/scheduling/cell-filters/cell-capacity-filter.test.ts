import { describe, expect, it } from 'vitest'
import { CellCapacityFilter } from '../../../../../shared/scheduling/cell-filters/cell-capacity-filter.js'
import { cell, request } from '../fixtures.js'

describe('CellCapacityFilter', () => {
  const filter = CellCapacityFilter.fromOptions({})

  it.each([
    { case: 'the flavor fits', c: cell(), r: request(), pass: true },
    { case: 'the report says none fit', c: cell({ flavorFits: { f1: { count: 0, maxPerHost: 0 } } }), r: request(), pass: false },
    {
      case: 'none fit in the requested zone',
      c: cell({ flavorFitsByZone: { edge: { f1: { count: 0, maxPerHost: 0 } } } }),
      r: request({ availabilityZone: 'edge' }),
      pass: false,
    },
    { case: 'unknown flavor that some host could take', c: cell(), r: request({ flavor: { id: 'new', memoryMb: 8192, vcpus: 8, diskGb: 100 } }), pass: true },
    { case: 'unknown flavor too big for every host', c: cell(), r: request({ flavor: { id: 'new', memoryMb: 8192, vcpus: 8, diskGb: 101 } }), pass: false },
    { case: 'unknown flavor, no host up', c: cell({ hostsUp: 0 }), r: request({ flavor: { id: 'new', memoryMb: 1, vcpus: 1, diskGb: 1 } }), pass: false },
  ])('$case', ({ c, r, pass }) => {
    expect(filter.passes(c, r).pass).toBe(pass)
  })

  it('names the flavor when it rejects', () => {
    expect(filter.passes(cell({ flavorFits: {} }), request({ flavor: { id: 'huge', memoryMb: 1e6, vcpus: 1, diskGb: 1 } }))).toEqual({
      pass: false,
      reason: expect.stringContaining('huge'),
    })
  })
})
