import { describe, expect, it } from 'vitest'
import { crossCellAllowed, targetRanker } from '../../../../api-cell/compute/cross-cell/targets.js'
import type { CellCapacity } from '../../../../shared/cell-link/types.js'
import { crossCellRuleOf } from '../../../../shared/config/federation.js'
import type { CellBuildRequest, CellRanking } from '../../../../shared/scheduling/cell-ranking.js'

const report = (path: string, ramFreeMb: number, hostsTotal = 2): CellCapacity => ({
  path,
  up: true,
  disabled: false,
  hostsUp: hostsTotal,
  hostsTotal,
  instances: 0,
  ramFreeMb,
  ramTotalMb: 65536,
  vcpusFree: 16,
  vcpusTotal: 16,
  diskFreeGb: 100,
  diskTotalGb: 100,
  availabilityZones: ['nova'],
  hypervisorTypes: ['QEMU'],
  cpuArchs: ['x86_64'],
  flavorFits: {},
  generatedAtMs: Date.now(),
  aggregate: true,
})

const flavor = { id: '2', name: 'm1.small', memoryMb: 2048, vcpus: 1, rootGb: 20, ephemeralGb: 0, swapMb: 0, extraSpecs: {} }

describe('cross-cell targets and rule', () => {
  it('reads FEDERATION_CROSS_CELL_RESIZE: nobody by default (as Nova), admin, any; anything else is an error', () => {
    expect(crossCellRuleOf(undefined)).toBe('nobody')
    expect(crossCellRuleOf('')).toBe('nobody')
    expect(crossCellRuleOf('admin')).toBe('admin')
    expect(crossCellRuleOf('any')).toBe('any')
    expect(() => crossCellRuleOf('everyone')).toThrow(/nobody, admin or any/)
    expect(crossCellAllowed('nobody', true)).toBe(false)
    expect(crossCellAllowed('admin', true)).toBe(true)
    expect(crossCellAllowed('admin', false)).toBe(false)
    expect(crossCellAllowed('any', false)).toBe(true)
  })

  it('offers leaf cells only, never the excluded source, cell0 or a cell without hosts, in the ranker order', () => {
    const reports = [
      report('api!region-one', 50_000, 8),
      report('api!region-one!dc1', 10_000),
      report('api!region-one!dc2', 30_000),
      report('api!region-two', 20_000),
      report('api!region-three', 0, 0),
      report('cell0', 0, 0),
    ]
    let asked: CellBuildRequest | undefined
    const rank = (c: readonly CellCapacity[], r: CellBuildRequest): CellRanking => {
      asked = r
      return { ranked: [...c].sort((a, b) => b.ramFreeMb - a.ramFreeMb), rejected: {} }
    }
    const targets = targetRanker(() => reports, rank)
    expect(targets(flavor, ['api!region-one!dc1'])).toEqual(['api!region-one!dc2', 'api!region-two'])
    expect(asked).toMatchObject({ flavorId: '2', memoryMb: 2048, diskGb: 20, triedCells: ['api!region-one!dc1'] })
    expect(targets(flavor, ['api!region-two'])).toEqual(['api!region-one!dc2', 'api!region-one!dc1'])
  })
})
