import { afterEach, describe, expect, it } from 'vitest'
import { syncDisabledFlags } from '../../../../api-cell/admin/disabled-sync.js'
import type { AdminDeps } from '../../../../api-cell/admin/deps.js'
import type { CellTree } from '../../../../api-cell/cells/cell-tree.js'
import { computeMigrations } from '../../../../api-cell/db/compute-migrations.js'
import type { ComputeTables } from '../../../../api-cell/db/compute-schema.js'
import type { CellAdminCall, CellCapacity } from '../../../../shared/cell-link/types.js'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'
import { createLogger } from '../../../../shared/logging.js'

const report = (path: string, disabled: boolean, up = true): CellCapacity => ({
  path,
  up,
  disabled,
  hostsUp: 1,
  hostsTotal: 1,
  instances: 0,
  ramFreeMb: 0,
  ramTotalMb: 0,
  vcpusFree: 0,
  vcpusTotal: 0,
  diskFreeGb: 0,
  diskTotalGb: 0,
  availabilityZones: [],
  hypervisorTypes: [],
  cpuArchs: [],
  flavorFits: {},
  generatedAtMs: Date.now(),
  aggregate: true,
})

describe('syncDisabledFlags', () => {
  let database: Database<ComputeTables> | undefined
  afterEach(async () => {
    await database?.close()
  })

  async function setup(rows: Array<[string, boolean]>, reports: CellCapacity[]) {
    database = await openDatabase<ComputeTables>('sqlite::memory:')
    await migrateToLatest(database.db, computeMigrations)
    for (const [path, disabled] of rows) {
      await database.db
        .insertInto('cells')
        .values({ uuid: path, name: path, path, parent_path: 'api', region: path, grpc_address: 'x:1', database_url: null, transport_url: null, disabled: disabled ? 1 : 0, disabled_reason: null, weight_offset: 0, event_cursor: 0, created_at: 0, updated_at: 0 })
        .execute()
    }
    const told: CellAdminCall[] = []
    const listeners = new Set<() => void>()
    const tree = {
      reports: () => reports,
      onCapacity: (l: () => void) => {
        listeners.add(l)
        return () => listeners.delete(l)
      },
      clientFor: () => ({ cellAdmin: async (_ctx: unknown, call: CellAdminCall) => void told.push(call) }),
    } as unknown as CellTree
    const deps: AdminDeps = { db: database.db, tree, cell0: {} as never, cell0DatabaseUrl: '', refreshSettings: async () => undefined, log: createLogger('test') }
    const stop = syncDisabledFlags(deps)
    return { told, fire: () => listeners.forEach((l) => l()), stop, listeners }
  }

  it('tells a cell whose report disagrees with the cells table, and only that one', async () => {
    const s = await setup(
      [
        ['api!a', true],
        ['api!b', false],
        ['api!c', false],
        ['api!d', true],
      ],
      [report('api!a', false), report('api!b', true), report('api!c', false), report('api!d', false, false)],
    )
    s.fire()
    await expect.poll(() => s.told.length).toBe(2)
    expect(s.told).toEqual(
      expect.arrayContaining([
        { cellPath: 'api!a', op: 'set_disabled', args: { disabled: true } },
        { cellPath: 'api!b', op: 'set_disabled', args: { disabled: false } },
      ]),
    )
    // A burst of reports does not become a burst of calls.
    s.fire()
    s.fire()
    await new Promise((r) => setTimeout(r, 50))
    expect(s.told).toHaveLength(2)
    s.stop()
    expect(s.listeners.size).toBe(0)
  })
})
