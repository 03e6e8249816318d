import { describe, expect, it } from 'vitest'
import { DEFAULT_HOST_FILTERS, hostFilterRegistry, OPT_IN_HOST_FILTERS } from '../../../../../child-cell/scheduler/filters/index.js'
import { buildFilters } from '../../../../../shared/scheduling/registry.js'

describe('host filter registry', () => {
  it('registers Nova names, each plugin calling itself by its registered name', () => {
    expect([...hostFilterRegistry.names].sort()).toEqual([
      'AggregateInstanceExtraSpecsFilter',
      'AggregateMultiTenancyIsolation',
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

  it('enables every built-in filter by default but the opt-in ones', () => {
    const optIn: readonly string[] = OPT_IN_HOST_FILTERS
    expect(buildFilters(hostFilterRegistry, DEFAULT_HOST_FILTERS).map((f) => f.name).sort()).toEqual([...hostFilterRegistry.names].filter((n) => !optIn.includes(n)).sort())
    expect(optIn).toEqual(['AggregateInstanceExtraSpecsFilter'])
  })
})
