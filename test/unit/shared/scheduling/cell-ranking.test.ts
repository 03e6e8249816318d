import { describe, expect, it } from 'vitest'
import type { BuildSpec } from '../../../../shared/cell-link/build-spec.js'
import type { CellCapacity } from '../../../../shared/cell-link/types.js'
import { cellFilterRegistry, DEFAULT_CELL_FILTERS } from '../../../../shared/scheduling/cell-filters/index.js'
import { cellBuildRequestOf, createCellRanker, toRequest } from '../../../../shared/scheduling/cell-ranking.js'
import { cellWeigherRegistry, DEFAULT_CELL_WEIGHERS } from '../../../../shared/scheduling/cell-weighers/index.js'
import { buildFilters, buildWeighers } from '../../../../shared/scheduling/registry.js'

const spec = (overrides: Partial<BuildSpec> = {}): BuildSpec => ({
  instanceUuid: '00000000-0000-4000-8000-000000000001',
  name: 'vm',
  hostname: 'vm',
  projectId: 'p',
  userId: 'u',
  flavor: { id: '2', name: 'm1.small', memoryMb: 2048, vcpus: 1, rootGb: 20, ephemeralGb: 1, swapMb: 1500, extraSpecs: {} },
  image: { id: 'img', name: 'cirros', properties: {} },
  availabilityZone: null,
  metadata: {},
  keyName: null,
  keyData: null,
  userData: null,
  description: null,
  reservationId: 'r-1',
  launchIndex: 0,
  schedulerHints: {},
  createdAt: 0,
  ...overrides,
})

const capacity = (path: string, hostsUp: number, count: number): CellCapacity => ({
  path,
  up: true,
  disabled: false,
  hostsUp,
  hostsTotal: hostsUp,
  instances: 0,
  ramFreeMb: 65536,
  ramTotalMb: 65536,
  vcpusFree: 64,
  vcpusTotal: 64,
  diskFreeGb: 1000,
  diskTotalGb: 1000,
  availabilityZones: ['nova'],
  hypervisorTypes: ['fake'],
  cpuArchs: ['x86_64'],
  flavorFits: { '2': { count, maxPerHost: count } },
  generatedAtMs: Date.now(),
  aggregate: false,
})

describe('cell ranking of a build', () => {
  it('asks for root + ephemeral + swap rounded up to GB, as the leaf claims', () => {
    expect(cellBuildRequestOf(spec(), { triedCells: [], isAdmin: false }).diskGb).toBe(23)
  })

  it('maps the server group: policy, rule (at least 1) and one cell per member', () => {
    const group = { uuid: 'g', policy: 'anti-affinity' as const, members: [{ host: 'h1', cellPath: 'api!a' }, { host: 'h2', cellPath: 'api!a' }] }
    const req = toRequest(cellBuildRequestOf(spec({ group }), { triedCells: ['api!x'], isAdmin: true }))
    expect(req.group).toEqual({ policy: 'anti-affinity', maxServerPerHost: 1, memberCells: ['api!a', 'api!a'] })
    expect(req.triedCells).toEqual(['api!x'])
    expect(toRequest(cellBuildRequestOf(spec(), { triedCells: [], isAdmin: false })).group).toBeUndefined()
  })

  it('sends an affinity member only where the group runs, though another cell has more room', () => {
    const rank = createCellRanker({
      filters: buildFilters(cellFilterRegistry, DEFAULT_CELL_FILTERS),
      weighers: buildWeighers(cellWeigherRegistry, DEFAULT_CELL_WEIGHERS),
      settingsOf: () => undefined,
    })
    const cells = [capacity('api!big', 4, 40), capacity('api!small', 1, 2)]
    const plain = rank(cells, cellBuildRequestOf(spec(), { triedCells: [], isAdmin: false }))
    expect(plain.ranked.map((c) => c.path)).toEqual(['api!big', 'api!small'])
    const group = { uuid: 'g', policy: 'affinity' as const, members: [{ host: 'h9', cellPath: 'api!small' }] }
    const together = rank(cells, cellBuildRequestOf(spec({ group }), { triedCells: [], isAdmin: false }))
    expect(together.ranked.map((c) => c.path)).toEqual(['api!small'])
    expect(together.rejected['api!big']).toContain('CellServerGroupFilter')
  })
})
