import { describe, expect, it } from 'vitest'
import { DEFAULT_HOST_FILTERS, hostFilterRegistry } from '../../../../../child-cell/scheduler/filters/index.js'
import { buildFilters } from '../../../../../shared/scheduling/registry.js'

describe('host filter registry', () => {
  it('registers Nova names, each plugin calling itself by its registered name', () => {
    expect([...hostFilterRegistry.names].sort()).toEqual([
      'AvailabilityZoneFilter',
      'ComputeCapabilitiesFilter',
      'ComputeFilter',
      'CoreFilter',
      'DifferentHostFilter',
      'DiskFilter',
      'ImagePropertiesFilter',
      'RamFilter',
      'RetryFilter',
      'SameHostFilter',
      'ServerGroupAffinityFilter',
      'ServerGroupAntiAffinityFilter',
    ])
    for (const name of hostFilterRegistry.names) expect(hostFilterRegistry.factory(name)?.({}).name).toBe(name)
  })

  it('enables every built-in filter by default', () => {
    expect(buildFilters(hostFilterRegistry, DEFAULT_HOST_FILTERS).map((f) => f.name).sort()).toEqual([...hostFilterRegistry.names].sort())
  })
})
