import { describe, expect, it } from 'vitest'
import type { RequestSpec } from '../../../../../child-cell/scheduler/host-state.js'
import { ServerGroupSoftAntiAffinityWeigher } from '../../../../../child-cell/scheduler/weighers/server-group-soft-anti-affinity-weigher.js'
import { select } from '../../../../../shared/scheduling/pipeline.js'
import { InvalidPluginOptionError } from '../../../../../shared/scheduling/registry.js'
import { host, rawWeights, spec } from '../fixtures.js'

describe('ServerGroupSoftAntiAffinityWeigher', () => {
  const weigher = ServerGroupSoftAntiAffinityWeigher.fromOptions({})
  const hosts = ['h1', 'h2', 'h3'].map((name) => host({ host: name }))
  const group = (policy: NonNullable<RequestSpec['group']>['policy'], members: string[]) => spec({ group: { uuid: 'g', policy, hosts: members } })

  it.each([
    { case: 'no group', s: spec(), want: [0, 0, 0] },
    { case: 'minus the members per host', s: group('soft-anti-affinity', ['h2', 'h3', 'h2']), want: [0, -2, -1] },
    { case: 'another policy', s: group('soft-affinity', ['h2']), want: [0, 0, 0] },
  ])('$case', ({ s, want }) => {
    expect(rawWeights(weigher, hosts, s)).toEqual(want)
  })

  it('prefers the host with fewest members, even when every host has some', () => {
    const { ranked } = select({ candidates: hosts, spec: group('soft-anti-affinity', ['h1', 'h1', 'h2', 'h3', 'h3', 'h3']), filters: [], weighers: [weigher] })
    expect(ranked.map((r) => r.candidate.host)).toEqual(['h2', 'h1', 'h3'])
  })

  it('reads soft_anti_affinity_weight_multiplier and refuses a negative one', () => {
    expect(ServerGroupSoftAntiAffinityWeigher.fromOptions({ soft_anti_affinity_weight_multiplier: 2 }).multiplier).toBe(2)
    expect(() => ServerGroupSoftAntiAffinityWeigher.fromOptions({ soft_anti_affinity_weight_multiplier: -2 })).toThrow(InvalidPluginOptionError)
  })
})
