import { describe, expect, it } from 'vitest'
import { CellWeightOffsetWeigher } from '../../../../../shared/scheduling/cell-weighers/cell-weight-offset-weigher.js'
import { select } from '../../../../../shared/scheduling/pipeline.js'
import { cell, request } from '../fixtures.js'

describe('CellWeightOffsetWeigher', () => {
  it.each([
    { offset: 0, want: 0 },
    { offset: -5, want: -5 },
    { offset: 1e15, want: 1e15 },
  ])('weighs offset $offset as $want', ({ offset, want }) => {
    expect(CellWeightOffsetWeigher.fromOptions({}).weigh(cell({ weightOffset: offset }), request())).toBe(want)
  })

  it('prefers the higher offset, by offset_weight_multiplier (default 1.0)', () => {
    const cells = [cell({ path: 'api!a', weightOffset: 0 }), cell({ path: 'api!b', weightOffset: 10 })]
    const rank = (options: Record<string, unknown>) =>
      select({ candidates: cells, spec: request(), filters: [], weighers: [CellWeightOffsetWeigher.fromOptions(options)] }).ranked.map((r) => [
        r.candidate.path,
        r.weight,
      ])
    expect(rank({})).toEqual([['api!b', 1], ['api!a', 0]])
    expect(rank({ offset_weight_multiplier: 4 })).toEqual([['api!b', 4], ['api!a', 0]])
  })
})
