import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Cell0Store } from '../../../../api-cell/cells/cell0.js'
import type { CellTree } from '../../../../api-cell/cells/cell-tree.js'
import type { ApiSchema } from '../../../../api-cell/db/schema.js'
import { API_MIGRATIONS } from '../../../../api-cell/runtime.js'
import { BuildDispatcher } from '../../../../api-cell/scheduler/build-dispatcher.js'
import { BuildLog } from '../../../../api-cell/scheduler/build-log.js'
import type { BuildOutcome, CellCapacity, CellLink } from '../../../../shared/cell-link/types.js'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'
import { createLogger } from '../../../../shared/logging.js'
import { buildSpecFixture } from '../../../helpers/build-spec.js'

const capacity = (path: string): CellCapacity => ({
  path,
  up: true,
  disabled: false,
  hostsUp: 1,
  hostsTotal: 1,
  instances: 0,
  ramFreeMb: 4096,
  ramTotalMb: 4096,
  vcpusFree: 4,
  vcpusTotal: 4,
  diskFreeGb: 40,
  diskTotalGb: 40,
  availabilityZones: ['nova'],
  hypervisorTypes: [],
  cpuArchs: [],
  flavorFits: {},
  generatedAtMs: Date.now(),
  aggregate: true,
})

/**
 * The global scheduler notes each build in the build log the admin API lists: who refused it on
 * the way (NACKs from the children it asked, in order) and where it ended.
 */
describe('BuildDispatcher with a build log', () => {
  let scratch: string
  let database: Database<ApiSchema>

  beforeEach(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'dashboard-dispatch-'))
    database = await openDatabase<ApiSchema>(`sqlite:${join(scratch, 'api.db')}`)
    await migrateToLatest(database.db, API_MIGRATIONS)
  })
  afterEach(async () => {
    await database.close()
    rmSync(scratch, { recursive: true, force: true })
  })

  it('records the refusal of the first region and the placement in the second', async () => {
    const answers: Record<string, BuildOutcome> = {
      'api!region-one': { accepted: false, reason: 'api!region-one!dc1: no valid host' },
      'api!region-two': { accepted: true, cellPath: 'api!region-two', host: 'r2-c1' },
    }
    const clientFor = (path: string): CellLink => ({ build: async () => answers[path] }) as unknown as CellLink
    const tree = { regionAggregates: () => [capacity('api!region-one'), capacity('api!region-two')], clientFor } as unknown as CellTree
    const builds = new BuildLog()
    const dispatcher = new BuildDispatcher({
      db: database.db,
      tree,
      cell0: {} as Cell0Store,
      log: createLogger('test'),
      builds,
      settings: { maxCellAttempts: 3, rank: (candidates) => ({ ranked: candidates, rejected: {} }) },
    })
    const spec = buildSpecFixture()
    const uuid = spec.instanceUuid
    const now = Date.now()
    await database.db.insertInto('build_requests').values({ instance_uuid: uuid, project_id: 'p', spec: JSON.stringify(spec), region: null, created_at: now }).execute()
    await database.db
      .insertInto('instance_mappings')
      .values({ instance_uuid: uuid, cell_path: null, project_id: 'p', user_id: 'u', region: null, queued_for_delete: 0, created_at: now })
      .execute()

    await dispatcher.dispatch({ requestId: 'req-test', roles: ['admin'] } as never, uuid)

    const [entry] = builds.recent({ limit: 5 })
    expect(entry).toMatchObject({ instance_uuid: uuid, outcome: 'placed', cell_path: 'api!region-two', host: 'r2-c1' })
    expect(entry?.refusals.map((r) => [r.cell_path, r.reason])).toEqual([['api!region-one', 'api!region-one!dc1: no valid host']])
    expect(builds.recent({ cell: 'api!region-one!dc1', limit: 5 }).map((b) => b.instance_uuid)).toEqual([uuid])
    const mapping = await database.db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', uuid).executeTakeFirst()
    expect(mapping?.cell_path).toBe('api!region-two')
  })
})
