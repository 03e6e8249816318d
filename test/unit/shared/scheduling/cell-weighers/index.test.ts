import { describe, expect, it } from 'vitest'
import { cellWeigherRegistry, DEFAULT_CELL_WEIGHERS } from '../../../../../shared/scheduling/cell-weighers/index.js'
import { buildWeighers } from '../../../../../shared/scheduling/registry.js'

describe('cell weigher registry', () => {
  it('registers the cell weighers, each calling itself by its registered name', () => {
    expect([...cellWeigherRegistry.names].sort()).toEqual(['CellFreeCapacityWeigher', 'CellServerGroupWeigher', 'CellStaleReportWeigher', 'CellWeightOffsetWeigher'])
    for (const name of cellWeigherRegistry.names) expect(cellWeigherRegistry.factory(name)?.({}).name).toBe(name)
    expect(buildWeighers(cellWeigherRegistry, DEFAULT_CELL_WEIGHERS).map((w) => w.multiplier)).toEqual([10, 1, -10, 20])
  })
})
