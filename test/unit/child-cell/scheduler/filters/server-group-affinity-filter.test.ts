import { describe, expect, it } from 'vitest'
import type { RequestSpec } from '../../../../../child-cell/scheduler/host-state.js'
import { ServerGroupAffinityFilter } from '../../../../../child-cell/scheduler/filters/server-group-affinity-filter.js'
import { host, keeps, spec } from '../fixtures.js'

describe('ServerGroupAffinityFilter', () => {
  const filter = ServerGroupAffinityFilter.fromOptions({})
  const hosts = ['h1', 'h2', 'h3'].map((name) => host({ host: name }))
  const group = (policy: NonNullable<RequestSpec['group']>['policy'], members: string[]) => ({ group: { uuid: 'g', policy, hosts: members } })

  it.each([
    { case: 'no group', s: spec(), want: [true, true, true] },
    { case: 'first member goes anywhere', s: spec(group('affinity', [])), want: [true, true, true] },
    { case: 'later members join the others', s: spec(group('affinity', ['h2'])), want: [false, true, false] },
    { case: 'members on several hosts (after a move)', s: spec(group('affinity', ['h1', 'h3', 'h3'])), want: [true, false, true] },
    { case: 'anti-affinity is not its business', s: spec(group('anti-affinity', ['h2'])), want: [true, true, true] },
    { case: 'soft-affinity never filters', s: spec(group('soft-affinity', ['h2'])), want: [true, true, true] },
  ])('$case', ({ s, want }) => {
    expect(keeps(filter, hosts, s)).toEqual(want)
  })

  it('rejects with a reason naming the policy', () => {
    expect(filter.passes(hosts[0]!, spec(group('affinity', ['h2'])))).toEqual({ pass: false, reason: expect.stringContaining("'affinity'") })
  })
})
