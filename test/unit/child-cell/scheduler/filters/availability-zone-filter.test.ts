import { describe, expect, it } from 'vitest'
import { AvailabilityZoneFilter } from '../../../../../child-cell/scheduler/filters/availability-zone-filter.js'
import { host, keeps, spec } from '../fixtures.js'

describe('AvailabilityZoneFilter', () => {
  const filter = AvailabilityZoneFilter.fromOptions({})
  const hosts = [host({ host: 'a', availabilityZone: 'nova' }), host({ host: 'b', availabilityZone: 'edge' })]

  it.each([
    { case: 'no zone requested keeps every host', zone: undefined, want: [true, true] },
    { case: 'a zone keeps its hosts only', zone: 'edge', want: [false, true] },
    { case: 'an unknown zone keeps none', zone: 'mars', want: [false, false] },
  ])('$case', ({ zone, want }) => {
    expect(keeps(filter, hosts, spec(zone === undefined ? {} : { availabilityZone: zone }))).toEqual(want)
  })

  it('does not run without a zone, and names the zone when it rejects', () => {
    expect(filter.appliesTo(spec())).toBe(false)
    expect(filter.passes(hosts[0]!, spec({ availabilityZone: 'edge' }))).toEqual({ pass: false, reason: expect.stringContaining("'edge'") })
  })
})
