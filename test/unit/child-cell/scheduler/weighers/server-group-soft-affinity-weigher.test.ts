import { describe, expect, it } from 'vitest'
import type { RequestSpec } from '../../../../../child-cell/scheduler/host-state.js'
import { ServerGroupSoftAffinityWeigher } from '../../../../../child-cell/scheduler/weighers/server-group-soft-affinity-weigher.js'
import { select } from '../../../../../shared/scheduling/pipeline.js'
import { InvalidPluginOptionError } from '../../../../../shared/scheduling/registry.js'
import { host, rawWeights, spec } from '../fixtures.js'

describe('ServerGroupSoftAffinityWeigher', () => {
  const weigher = ServerGroupSoftAffinityWeigher.fromOptions({})
  const hosts = ['h1', 'h2', 'h3'].map((name) => host({ host: name }))
  const group = (policy: NonNullable<RequestSpec['group']>['policy'], members: string[]) => spec({ group: { uuid: 'g', policy, hosts: members } })

  it.each([
    { case: 'no group', s: spec(), want: [0, 0, 0] },
    { case: 'members per host', s: group('soft-affinity', ['h2', 'h3', 'h2']), want: [0, 2, 1] },
    { case: 'another policy', s: group('soft-anti-affinity', ['h2']), want: [0, 0, 0] },
    { case: 'hard affinity is the filter business', s: group('affinity', ['h2']), want: [0, 0, 0] },
  ])('$case', ({ s, want }) => {
    expect(rawWeights(weigher, hosts, s)).toEqual(want)
  })

  it('prefers the host with most members, and never rejects', () => {
    const { ranked } = select({ candidates: hosts, spec: group('soft-affinity', ['h3', 'h3', 'h1']), filters: [], weighers: [weigher] })
    expect(ranked.map((r) => r.candidate.host)).toEqual(['h3', 'h1', 'h2'])
  })

  it.each([
    { options: { soft_affinity_weight_multiplier: 3 }, multiplier: 3 },
    { options: {}, multiplier: 1 },
  ])('reads soft_affinity_weight_multiplier $options', ({ options, multiplier }) => {
    expect(ServerGroupSoftAffinityWeigher.fromOptions(options).multiplier).toBe(multiplier)
  })

  it('refuses a negative multiplier, as Nova does', () => {
    expect(() => ServerGroupSoftAffinityWeigher.fromOptions({ soft_affinity_weight_multiplier: -1 })).toThrow(InvalidPluginOptionError)
  })
})
