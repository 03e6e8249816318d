import { describe, expect, it } from 'vitest'
import { estimatedFit, isSameOrBelow, reportedFit } from '../../../../shared/scheduling/cell-candidate.js'
import { cell, request } from './fixtures.js'

describe('cell candidates', () => {
  it.each([
    ['api!r1', 'api!r1', true],
    ['api!r1!dc1', 'api!r1', true],
    ['api!r10', 'api!r1', false],
    ['api!r1', 'api!r1!dc1', false],
    ['api', 'api', true],
  ])('isSameOrBelow(%s, %s) = %s', (path, ancestor, want) => expect(isSameOrBelow(path, ancestor)).toBe(want))

  it.each([
    { case: 'known flavor', c: cell(), r: request(), want: { count: 10, maxPerHost: 3 } },
    { case: 'unknown flavor', c: cell(), r: request({ flavor: { id: 'new', memoryMb: 1, vcpus: 1, diskGb: 1 } }), want: undefined },
    {
      case: 'per zone when broken down',
      c: cell({ flavorFitsByZone: { edge: { f1: { count: 1, maxPerHost: 1 } } } }),
      r: request({ availabilityZone: 'edge' }),
      want: { count: 1, maxPerHost: 1 },
    },
    {
      case: 'whole cell for a zone not broken down',
      c: cell({ flavorFitsByZone: { edge: { f1: { count: 1, maxPerHost: 1 } } } }),
      r: request({ availabilityZone: 'nova' }),
      want: { count: 10, maxPerHost: 3 },
    },
  ])('reportedFit: $case', ({ c, r, want }) => expect(reportedFit(c, r)).toEqual(want))

  it.each([
    { case: 'fits on the largest host', flavor: { memoryMb: 4096, vcpus: 2, diskGb: 20 }, want: { count: 4, maxPerHost: 2 } },
    { case: 'too much RAM for any host', flavor: { memoryMb: 8193, vcpus: 1, diskGb: 1 }, want: { count: 0, maxPerHost: 0 } },
    { case: 'too many vCPUs for any host', flavor: { memoryMb: 1, vcpus: 9, diskGb: 1 }, want: { count: 0, maxPerHost: 0 } },
    { case: 'a flavor asking for nothing', flavor: { memoryMb: 0, vcpus: 0, diskGb: 0 }, want: { count: 2, maxPerHost: 1 } },
  ])('estimatedFit: $case', ({ flavor, want }) => {
    expect(estimatedFit(cell(), request({ flavor: { id: 'new', ...flavor } }))).toEqual(want)
  })

  it('estimates nothing for a cell without up hosts', () => {
    expect(estimatedFit(cell({ hostsUp: 0 }), request())).toEqual({ count: 0, maxPerHost: 0 })
  })
})
