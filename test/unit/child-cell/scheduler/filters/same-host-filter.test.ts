import { describe, expect, it } from 'vitest'
import { SameHostFilter } from '../../../../../child-cell/scheduler/filters/same-host-filter.js'
import { host, keeps, spec } from '../fixtures.js'

describe('SameHostFilter', () => {
  const filter = SameHostFilter.fromOptions({})
  const hosts = ['h1', 'h2', 'h3'].map((name) => host({ host: name }))

  it.each([
    { case: 'no hint keeps every host', hint: undefined, want: [true, true, true] },
    { case: 'the host of the named instance', hint: ['h2'], want: [false, true, false] },
    { case: 'hosts of several instances', hint: ['h1', 'h3'], want: [true, false, true] },
    { case: 'named instances running nowhere: no host (as Nova)', hint: [], want: [false, false, false] },
  ])('$case', ({ hint, want }) => {
    expect(keeps(filter, hosts, spec(hint === undefined ? {} : { hintHosts: { sameHost: hint } }))).toEqual(want)
  })

  it('ignores the different_host list', () => {
    expect(keeps(filter, hosts, spec({ hintHosts: { differentHost: ['h1'] } }))).toEqual([true, true, true])
  })
})
