import { describe, expect, it } from 'vitest'
import type { CellGroupRequest } from '../../../../../shared/scheduling/cell-candidate.js'
import { CellServerGroupWeigher } from '../../../../../shared/scheduling/cell-weighers/cell-server-group-weigher.js'
import { select } from '../../../../../shared/scheduling/pipeline.js'
import { InvalidPluginOptionError } from '../../../../../shared/scheduling/registry.js'
import { cell, request } from '../fixtures.js'

describe('CellServerGroupWeigher', () => {
  const weigher = CellServerGroupWeigher.fromOptions({})
  const group = (policy: CellGroupRequest['policy'], memberCells: string[]) => request({ group: { policy, maxServerPerHost: 1, memberCells } })

  it.each([
    { case: 'no group', r: request(), path: 'api!r1', hostsUp: 2, want: 0 },
    { case: 'soft-affinity counts members below', r: group('soft-affinity', ['api!r1!dc1', 'api!r1!dc2', 'api!r2']), path: 'api!r1', hostsUp: 2, want: 2 },
    { case: 'soft-anti-affinity: minus members per up host', r: group('soft-anti-affinity', ['api!r1', 'api!r1', 'api!r1']), path: 'api!r1', hostsUp: 4, want: -0.75 },
    { case: 'anti-affinity spreads too', r: group('anti-affinity', ['api!r1!dc1']), path: 'api!r1', hostsUp: 2, want: -0.5 },
    { case: 'no member here', r: group('anti-affinity', ['api!r2']), path: 'api!r1', hostsUp: 2, want: 0 },
    { case: 'hard affinity is the filter\'s business', r: group('affinity', ['api!r1']), path: 'api!r1', hostsUp: 2, want: 0 },
  ])('$case', ({ r, path, hostsUp, want }) => {
    expect(weigher.weigh(cell({ path, hostsUp }), r)).toBe(want)
    if (!weigher.appliesTo(r)) expect(want).toBe(0)
  })

  it('keeps a soft-affinity group together against free capacity, and spreads a soft-anti-affinity one', () => {
    const cells = [cell({ path: 'api!a' }), cell({ path: 'api!b' })]
    const best = (r: ReturnType<typeof group>) => select({ candidates: cells, spec: r, filters: [], weighers: [weigher] }).ranked[0]?.candidate.path
    expect(best(group('soft-affinity', ['api!b']))).toBe('api!b')
    expect(best(group('soft-anti-affinity', ['api!a']))).toBe('api!b')
  })

  it('reads server_group_weight_multiplier (default 20, never negative)', () => {
    expect(weigher.multiplier).toBe(20)
    expect(CellServerGroupWeigher.fromOptions({ server_group_weight_multiplier: 3 }).multiplier).toBe(3)
    expect(() => CellServerGroupWeigher.fromOptions({ server_group_weight_multiplier: -1 })).toThrow(InvalidPluginOptionError)
    expect(() => CellServerGroupWeigher.fromOptions({ other: 1 })).toThrow(InvalidPluginOptionError)
  })
})
