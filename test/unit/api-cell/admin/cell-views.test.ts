import { describe, expect, it } from 'vitest'
import { cellView, nestCells, stateOf } from '../../../../api-cell/admin/cell-views.js'
import type { CellView } from '../../../../api-cell/admin/cell-views.js'
import type { CellCapacity } from '../../../../shared/cell-link/types.js'

const rep = (over: Partial<CellCapacity>): CellCapacity => ({
  path: 'api!r1',
  up: true,
  disabled: false,
  hostsUp: 2,
  hostsTotal: 3,
  instances: 4,
  ramFreeMb: 1000.7,
  ramTotalMb: 2000,
  vcpusFree: 7.25,
  vcpusTotal: 16,
  diskFreeGb: 50.9,
  diskTotalGb: 100,
  availabilityZones: [],
  hypervisorTypes: [],
  cpuArchs: [],
  flavorFits: {},
  generatedAtMs: 10_000,
  aggregate: true,
  ...over,
})

const row = (path: string, over: Record<string, unknown> = {}) => ({
  uuid: 'u',
  name: path.split('!').pop() ?? path,
  path,
  parent_path: path.includes('!') ? path.slice(0, path.lastIndexOf('!')) : null,
  region: 'r1',
  grpc_address: null,
  database_url: 'mysql://root:s3cret@db:3306/x',
  transport_url: null,
  disabled: 0,
  disabled_reason: null,
  weight_offset: 0,
  event_cursor: 0,
  created_at: 0,
  updated_at: 0,
  ...over,
})

describe('cell views', () => {
  it.each([
    [{ disabled: 1 }, rep({}), 'disabled'],
    [{ disabled: 0 }, rep({}), 'up'],
    [{ disabled: 0 }, rep({ up: false }), 'down'],
    [{ disabled: 0 }, undefined, 'down'],
  ] as const)('a row %j with report %j is %s', (r, report, state) => {
    expect(stateOf({ path: 'api!r1', ...r }, report)).toBe(state)
  })

  it('shows cell0 up without reports, and disabled when an operator says so', () => {
    expect(stateOf({ path: 'cell0', disabled: 0 }, undefined)).toBe('up')
  })

  it('rounds capacity, masks passwords, computes report age and keeps the reason only when disabled', () => {
    const inputs = { reports: new Map([['api!r1', rep({})]]), mappedHosts: new Map([['api!r1', 3]]), indexedInstances: new Map<string, number>(), now: 12_500 }
    const v = cellView(row('api!r1', { disabled_reason: 'old reason' }), inputs)
    expect(v).toMatchObject({ state: 'up', free_ram_mb: 1000, free_vcpus: 7.3, free_disk_gb: 50, report_age_s: 2.5, mapped_hosts: 3, disabled_reason: null })
    expect(v.database_url).toBe('mysql://root:***@db:3306/x')
    const never = cellView(row('api!r2'), inputs)
    expect(never).toMatchObject({ state: 'down', report_age_s: null, hosts_total: 0 })
  })

  it('nests cells under their parents; regions, cell0 and orphans are roots', () => {
    const v = (path: string, parent: string | null): CellView => ({ path, parent_path: parent }) as CellView
    const tree = nestCells([v('api!r1!b', 'api!r1'), v('cell0', null), v('api!r1', 'api'), v('api!r1!a', 'api!r1'), v('api!x!y', 'api!x')])
    expect(tree.map((n) => n.path)).toEqual(['api!r1', 'api!x!y', 'cell0'])
    expect(tree[0]?.children.map((n) => n.path)).toEqual(['api!r1!a', 'api!r1!b'])
  })
})
