import { describe, expect, it } from 'vitest'
import type { CellGroupRequest } from '../../../../../shared/scheduling/cell-candidate.js'
import { CellServerGroupFilter } from '../../../../../shared/scheduling/cell-filters/cell-server-group-filter.js'
import { InvalidPluginOptionError } from '../../../../../shared/scheduling/registry.js'
import { cell, request } from '../fixtures.js'

describe('CellServerGroupFilter', () => {
  const filter = CellServerGroupFilter.fromOptions({})
  // Two hosts up in each cell (the fixture's default).
  const paths = ['api!r1', 'api!r1!dc1', 'api!r1!dc2', 'api!r2']
  const group = (policy: CellGroupRequest['policy'], memberCells: string[], maxServerPerHost = 1) => ({ group: { policy, maxServerPerHost, memberCells } })

  it.each([
    { case: 'no group', r: request(), want: [true, true, true, true] },
    { case: 'affinity, first member: anywhere', r: request(group('affinity', [])), want: [true, true, true, true] },
    { case: 'affinity: only the way to the members', r: request(group('affinity', ['api!r1!dc2'])), want: [true, false, true, false] },
    { case: 'affinity: members in a parent cell itself', r: request(group('affinity', ['api!r2'])), want: [false, false, false, true] },
    { case: 'anti-affinity: a cell with a free host passes', r: request(group('anti-affinity', ['api!r1!dc1'])), want: [true, true, true, true] },
    {
      case: 'anti-affinity: a cell whose every up host runs a member is left out',
      r: request(group('anti-affinity', ['api!r1!dc1', 'api!r1!dc1'])),
      // api!r1 counts its subtree (2 members) against its own report (2 hosts up in the fixture).
      want: [false, false, true, true],
    },
    {
      case: 'anti-affinity with max_server_per_host 2 leaves room',
      r: request(group('anti-affinity', ['api!r1!dc1', 'api!r1!dc1'], 2)),
      want: [true, true, true, true],
    },
    { case: 'soft policies never filter', r: request(group('soft-affinity', ['api!r2'])), want: [true, true, true, true] },
    { case: 'soft-anti-affinity never filters', r: request(group('soft-anti-affinity', ['api!r2', 'api!r2', 'api!r2'])), want: [true, true, true, true] },
  ])('$case', ({ r, want }) => {
    expect(paths.map((path) => filter.passes(cell({ path }), r).pass)).toEqual(want)
    if (!filter.appliesTo(r)) expect(want.every(Boolean)).toBe(true)
  })

  it('says why', () => {
    expect(filter.passes(cell({ path: 'api!r2' }), request(group('affinity', ['api!r1'])))).toEqual({ pass: false, reason: expect.stringContaining('another cell') })
  })

  it('reads no options', () => {
    expect(() => CellServerGroupFilter.fromOptions({ strict: true })).toThrow(InvalidPluginOptionError)
    expect(filter.name).toBe('CellServerGroupFilter')
  })
})
