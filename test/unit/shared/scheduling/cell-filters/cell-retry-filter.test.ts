import { describe, expect, it } from 'vitest'
import { CellRetryFilter } from '../../../../../shared/scheduling/cell-filters/cell-retry-filter.js'
import { cell, request } from '../fixtures.js'

describe('CellRetryFilter', () => {
  const filter = CellRetryFilter.fromOptions({})

  it.each([
    { case: 'first try', tried: [], want: [true, true] },
    { case: 'a child that said NACK', tried: ['api!r1'], want: [false, true] },
    { case: 'a NACK from elsewhere in the tree', tried: ['api!r9!dc1'], want: [true, true] },
  ])('$case', ({ tried, want }) => {
    const r = request({ triedCells: tried })
    expect(['api!r1', 'api!r2'].map((path) => filter.passes(cell({ path }), r).pass)).toEqual(want)
    expect(filter.appliesTo(r)).toBe(tried.length > 0)
  })
})
