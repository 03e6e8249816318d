import { describe, expect, it } from 'vitest'
import { CellStaleReportWeigher } from '../../../../../shared/scheduling/cell-weighers/cell-stale-report-weigher.js'
import { select } from '../../../../../shared/scheduling/pipeline.js'
import { InvalidPluginOptionError } from '../../../../../shared/scheduling/registry.js'
import { cell, request } from '../fixtures.js'

describe('CellStaleReportWeigher', () => {
  const weigher = CellStaleReportWeigher.fromOptions({})

  it.each([
    { ageS: 0, want: 0 },
    { ageS: 60, want: 0 },
    { ageS: 120, want: 0.25 },
    { ageS: 180, want: 0.5 },
    { ageS: 300, want: 1 },
    { ageS: 3600, want: 1 },
  ])('staleness after $ageS s is $want (grace 60 s, horizon 300 s)', ({ ageS, want }) => {
    expect(weigher.weigh(cell({ reportAgeMs: ageS * 1000 }), request())).toBeCloseTo(want, 12)
  })

  it('penalises with fixed bounds, so seconds of jitter between fresh cells do not count', () => {
    const cells = [cell({ path: 'api!a', reportAgeMs: 5_000 }), cell({ path: 'api!b', reportAgeMs: 1_000 }), cell({ path: 'api!c', reportAgeMs: 180_000 })]
    const s = select({ candidates: cells, spec: request(), filters: [], weighers: [weigher] })
    expect(s.ranked.map((r) => [r.candidate.path, r.weight])).toEqual([['api!a', 0], ['api!b', 0], ['api!c', -5]])
  })

  it.each([
    { options: { stale_weight_multiplier: 1 }, problem: /must be <= 0/ },
    { options: { stale_report_grace_seconds: -1 }, problem: /must be >= 0/ },
    { options: { stale_report_grace_seconds: 300, stale_report_horizon_seconds: 300 }, problem: /greater than stale_report_grace_seconds/ },
  ])('refuses $options', ({ options, problem }) => {
    expect(() => CellStaleReportWeigher.fromOptions(options)).toThrow(InvalidPluginOptionError)
    expect(() => CellStaleReportWeigher.fromOptions(options)).toThrow(problem)
  })

  it('reads its options', () => {
    const w = CellStaleReportWeigher.fromOptions({ stale_weight_multiplier: -2, stale_report_grace_seconds: 0, stale_report_horizon_seconds: 10 })
    expect([w.multiplier, w.weigh(cell({ reportAgeMs: 5000 }), request())]).toEqual([-2, 0.5])
  })
})
