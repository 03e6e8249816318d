import { describe, expect, it } from 'vitest'
import type { RequestSpec } from '../../../../../child-cell/scheduler/host-state.js'
import { ServerGroupAntiAffinityFilter } from '../../../../../child-cell/scheduler/filters/server-group-anti-affinity-filter.js'
import { host, keeps, spec } from '../fixtures.js'

describe('ServerGroupAntiAffinityFilter', () => {
  const filter = ServerGroupAntiAffinityFilter.fromOptions({})
  const hosts = ['h1', 'h2', 'h3'].map((name) => host({ host: name }))
  const group = (policy: NonNullable<RequestSpec['group']>['policy'], members: string[]) => ({ group: { uuid: 'g', policy, hosts: members } })

  it.each([
    { case: 'no group', s: spec(), want: [true, true, true] },
    { case: 'first member goes anywhere', s: spec(group('anti-affinity', [])), want: [true, true, true] },
    { case: 'a used host is refused', s: spec(group('anti-affinity', ['h2'])), want: [true, false, true] },
    { case: 'every used host is refused', s: spec(group('anti-affinity', ['h1', 'h2', 'h3'])), want: [false, false, false] },
    { case: 'affinity is not its business', s: spec(group('affinity', ['h2'])), want: [true, true, true] },
    { case: 'soft-anti-affinity never filters', s: spec(group('soft-anti-affinity', ['h2'])), want: [true, true, true] },
  ])('$case', ({ s, want }) => {
    expect(keeps(filter, hosts, s)).toEqual(want)
  })

  it.each([
    { case: 'max_server_per_host 2: one member leaves room', max: 2, members: ['h2'], want: [true, true, true] },
    { case: 'max_server_per_host 2: two members fill the host', max: 2, members: ['h2', 'h2', 'h3'], want: [true, false, true] },
    { case: 'max_server_per_host 3 on a host with 3', max: 3, members: ['h1', 'h1', 'h1', 'h2'], want: [false, true, true] },
    { case: 'a rule below 1 counts as 1', max: 0, members: ['h1'], want: [false, true, true] },
  ])('$case', ({ max, members, want }) => {
    const s = spec({ group: { uuid: 'g', policy: 'anti-affinity', hosts: members, maxServerPerHost: max } })
    expect(keeps(filter, hosts, s)).toEqual(want)
  })

  it('copes with groups of thousands of members', () => {
    const members = Array.from({ length: 5000 }, (_, i) => `m${i}`)
    const many = [host({ host: 'm4999' }), host({ host: 'm5000' }), host({ host: 'x4999' })]
    expect(keeps(filter, many, spec(group('anti-affinity', members)))).toEqual([false, true, true])
  })
})
