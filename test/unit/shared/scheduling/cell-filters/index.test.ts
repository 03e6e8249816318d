import { describe, expect, it } from 'vitest'
import { cellFilterRegistry, DEFAULT_CELL_FILTERS } from '../../../../../shared/scheduling/cell-filters/index.js'
import { buildFilters } from '../../../../../shared/scheduling/registry.js'

describe('cell filter registry', () => {
  it('registers the cell filters, each calling itself by its registered name', () => {
    expect([...cellFilterRegistry.names].sort()).toEqual([
      'CellAvailabilityZoneFilter',
      'CellCapacityFilter',
      'CellDisabledFilter',
      'CellImagePropertiesFilter',
      'CellRetryFilter',
      'CellServerGroupFilter',
      'DifferentCellFilter',
      'TargetCellFilter',
    ])
    for (const name of cellFilterRegistry.names) expect(cellFilterRegistry.factory(name)?.({}).name).toBe(name)
    expect(buildFilters(cellFilterRegistry, DEFAULT_CELL_FILTERS)).toHaveLength(8)
  })
})
