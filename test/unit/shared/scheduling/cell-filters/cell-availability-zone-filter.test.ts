import { describe, expect, it } from 'vitest'
import { CellAvailabilityZoneFilter } from '../../../../../shared/scheduling/cell-filters/cell-availability-zone-filter.js'
import { cell, request } from '../fixtures.js'

describe('CellAvailabilityZoneFilter', () => {
  const filter = CellAvailabilityZoneFilter.fromOptions({})

  it.each([
    { case: 'no zone requested', zones: ['nova'], zone: undefined, pass: true },
    { case: 'the cell has the zone', zones: ['nova', 'edge'], zone: 'edge', pass: true },
    { case: 'the cell lacks the zone', zones: ['nova'], zone: 'edge', pass: false },
    { case: 'the cell has no zone at all (no host up)', zones: [], zone: 'nova', pass: false },
  ])('$case', ({ zones, zone, pass }) => {
    const r = request(zone === undefined ? {} : { availabilityZone: zone })
    expect(filter.passes(cell({ availabilityZones: zones }), r).pass).toBe(pass)
    expect(filter.appliesTo(r)).toBe(zone !== undefined)
  })
})
