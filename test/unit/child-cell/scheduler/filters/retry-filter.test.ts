import { describe, expect, it } from 'vitest'
import { RetryFilter } from '../../../../../child-cell/scheduler/filters/retry-filter.js'
import { host, keeps, spec } from '../fixtures.js'

describe('RetryFilter', () => {
  const filter = RetryFilter.fromOptions({})
  const hosts = ['h1', 'h2', 'h3'].map((name) => host({ host: name }))

  it.each([
    { case: 'first attempt keeps every host', ignore: [], want: [true, true, true] },
    { case: 'a tried host is skipped', ignore: ['h2'], want: [true, false, true] },
    { case: 'several tried hosts', ignore: ['h3', 'h1'], want: [false, true, false] },
    { case: 'a tried host not in the list changes nothing', ignore: ['h9'], want: [true, true, true] },
  ])('$case', ({ ignore, want }) => {
    expect(keeps(filter, hosts, spec({ ignoreHosts: ignore }))).toEqual(want)
  })

  it('lists the tried hosts in its reason', () => {
    expect(filter.passes(hosts[0]!, spec({ ignoreHosts: ['h1', 'h7'] }))).toEqual({ pass: false, reason: expect.stringContaining('h1, h7') })
  })
})
