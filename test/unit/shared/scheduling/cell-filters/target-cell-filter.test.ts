import { describe, expect, it } from 'vitest'
import { TargetCellFilter } from '../../../../../shared/scheduling/cell-filters/target-cell-filter.js'
import { select } from '../../../../../shared/scheduling/pipeline.js'
import { cell, request } from '../fixtures.js'

describe('TargetCellFilter', () => {
  const filter = TargetCellFilter.fromOptions({})
  const children = ['api!r1', 'api!r2', 'api!r10'].map((path) => cell({ path, name: path.split('!').pop() ?? path }))
  const paths = (target: string | undefined, isAdmin: boolean) =>
    select({ candidates: children, spec: request({ isAdmin, hints: target === undefined ? {} : { targetCell: target } }), filters: [filter], weighers: [] }).ranked.map(
      (r) => r.candidate.path,
    )

  it.each([
    { case: 'no hint', target: undefined, isAdmin: true, want: ['api!r1', 'api!r2', 'api!r10'] },
    { case: 'a child itself', target: 'api!r2', isAdmin: true, want: ['api!r2'] },
    { case: 'a cell below a child (on the way)', target: 'api!r1!dc3', isAdmin: true, want: ['api!r1'] },
    { case: 'an ancestor of the children (already inside it)', target: 'api', isAdmin: true, want: ['api!r1', 'api!r2', 'api!r10'] },
    { case: 'not confused by a common prefix', target: 'api!r10!dc1', isAdmin: true, want: ['api!r10'] },
    { case: 'no such cell', target: 'api!r9', isAdmin: true, want: [] },
    { case: 'non-admin: hint ignored (cells v1)', target: 'api!r2', isAdmin: false, want: ['api!r1', 'api!r2', 'api!r10'] },
  ])('$case', ({ target, isAdmin, want }) => {
    expect(paths(target, isAdmin)).toEqual(want)
  })
})
