import { describe, expect, it } from 'vitest'
import { DifferentHostFilter } from '../../../../../child-cell/scheduler/filters/different-host-filter.js'
import { host, keeps, spec } from '../fixtures.js'

describe('DifferentHostFilter', () => {
  const filter = DifferentHostFilter.fromOptions({})
  const hosts = ['h1', 'h2', 'h3'].map((name) => host({ host: name }))

  it.each([
    { case: 'no hint keeps every host', hint: undefined, want: [true, true, true] },
    { case: 'the host of the named instance is avoided', hint: ['h2'], want: [true, false, true] },
    { case: 'hosts of several instances', hint: ['h1', 'h3', 'h1'], want: [false, true, false] },
    { case: 'named instances running nowhere avoid nothing', hint: [], want: [true, true, true] },
  ])('$case', ({ hint, want }) => {
    expect(keeps(filter, hosts, spec(hint === undefined ? {} : { hintHosts: { differentHost: hint } }))).toEqual(want)
  })

  it('ignores the same_host list', () => {
    expect(keeps(filter, hosts, spec({ hintHosts: { sameHost: ['h1'] } }))).toEqual([true, true, true])
  })
})
