import { describe, expect, it } from 'vitest'
import { DifferentCellFilter } from '../../../../../shared/scheduling/cell-filters/different-cell-filter.js'
import { cell, request } from '../fixtures.js'

describe('DifferentCellFilter', () => {
  const filter = DifferentCellFilter.fromOptions({})
  const paths = ['api!r1', 'api!r1!dc1', 'api!r1!dc2', 'api!r2']

  it.each([
    { case: 'no hint', avoid: undefined, isAdmin: true, want: [true, true, true, true] },
    { case: 'a leaf', avoid: ['api!r1!dc1'], isAdmin: true, want: [true, false, true, true] },
    { case: 'a subtree', avoid: ['api!r1'], isAdmin: true, want: [false, false, false, true] },
    { case: 'several', avoid: ['api!r2', 'api!r1!dc2'], isAdmin: true, want: [true, true, false, false] },
    { case: 'non-admin: hint ignored (cells v1)', avoid: ['api!r1'], isAdmin: false, want: [true, true, true, true] },
  ])('$case', ({ avoid, isAdmin, want }) => {
    const r = request({ isAdmin, hints: avoid === undefined ? {} : { differentCell: avoid } })
    expect(paths.map((path) => filter.passes(cell({ path }), r).pass)).toEqual(want)
    if (!filter.appliesTo(r)) expect(want.every(Boolean)).toBe(true)
  })
})
