import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { computeMigrations } from '../../api-cell/db/compute-migrations.js'
import type { ComputeTables } from '../../api-cell/db/compute-schema.js'
import { UnshelveMover } from '../../api-cell/scheduler/unshelve-mover.js'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import type { BuildCall, CellLink, InstanceActionCall } from '../../shared/cell-link/types.js'
import { systemContext } from '../../shared/context.js'
import { dropMysqlSchema, migrateToLatest, openDatabase, sql } from '../../shared/db/database.js'
import { createLogger } from '../../shared/logging.js'

const UUID = '0b6f3c2e-5d4a-4b1c-9e8f-7a6b5c4d3e2f'
const SOURCE = 'api!r1!a'

const spec: BuildSpec = {
  instanceUuid: UUID,
  name: 'vm',
  hostname: 'vm',
  projectId: 'p',
  userId: 'u',
  flavor: { id: '1', name: 'm1.tiny', memoryMb: 512, vcpus: 1, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} },
  image: { id: 'shelved', name: 'vm-shelved', properties: {} },
  unshelveImageRef: 'cirros',
  availabilityZone: null,
  metadata: {},
  keyName: null,
  keyData: null,
  // The largest user_data Nova accepts: the saga's row must hold the whole spec.
  userData: 'A'.repeat(65_535),
  description: null,
  reservationId: 'r-1',
  launchIndex: 0,
  schedulerHints: {},
  retry: { attempt: 0, triedCells: [SOURCE], faults: [], versionBase: 3 },
  createdAt: 1,
}

/**
 * The unshelve saga's table on MariaDB (the API DB in production): the row holds a spec past
 * 64 KiB, a second unshelve while one is in flight is 409 (the primary key), and a move runs
 * through to the mapping in the target cell.
 */
describe('MariaDB: unshelve moves (api-cell/scheduler/unshelve-mover.ts)', () => {
  const url = `mysql://root@127.0.0.1:3306/unshelve_moves_${randomBytes(6).toString('hex')}`

  afterAll(async () => {
    await dropMysqlSchema(url)
  })

  it('keeps the saga in the API DB and moves the mapping', async () => {
    const database = await openDatabase<ComputeTables>(url)
    try {
      await migrateToLatest(database.db, computeMigrations)
      const db = database.db
      const t = await sql<{ t: string }>`SELECT DATA_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'unshelve_moves' AND COLUMN_NAME = 'spec'`.execute(db)
      expect(t.rows[0]?.t).toBe('mediumtext')
      await db.insertInto('instance_mappings').values({ instance_uuid: UUID, cell_path: SOURCE, project_id: 'p', user_id: 'u', region: null, queued_for_delete: 0, created_at: 1 }).execute()
      await db
        .insertInto('instance_index')
        .values({
          uuid: UUID, project_id: 'p', user_id: 'u', name: 'vm', vm_state: 'shelved_offloaded', task_state: null, power_state: 0, host: null,
          availability_zone: 'a', cell_path: SOURCE, region: 'r1', flavor_id: '1', image_ref: 'cirros', reservation_id: 'r-1', version: 3, created_at: 1, updated_at: 1,
        })
        .execute()
      const builds: BuildCall[] = []
      const actions: InstanceActionCall[] = []
      let answer = false
      const link: CellLink = {
        build: async (_ctx, call) => {
          builds.push(call)
          // Not answered until the test lets it: the move stays in flight meanwhile.
          while (!answer) await new Promise((r) => setTimeout(r, 20))
          return { accepted: true, cellPath: 'api!r2!b', host: 'h2' }
        },
        instanceAction: async (_ctx, args) => {
          actions.push(args)
          return null
        },
        getInstances: async () => [{ uuid: UUID, deleted: false }],
        listHosts: async () => [],
        cellAdmin: async () => null,
        ackEvents: async () => undefined,
        listInstanceVersions: async () => [],
      }
      const mover = new UnshelveMover({ db, clientFor: () => link, log: createLogger('test'), placementDeadlineMs: 10_000 })
      await mover.start(systemContext(), { instanceUuid: UUID, sourceCell: SOURCE, ranked: ['api!r2'], spec })
      await expect(mover.start(systemContext(), { instanceUuid: UUID, sourceCell: SOURCE, ranked: ['api!r2'], spec })).rejects.toMatchObject({ status: 409 })
      const row = await db.selectFrom('unshelve_moves').select('spec').executeTakeFirstOrThrow()
      expect((JSON.parse(row.spec) as BuildSpec).userData).toBe(spec.userData)
      answer = true
      // The new copy runs: the source's record may go.
      await db.updateTable('instance_index').set({ vm_state: 'active', task_state: null }).execute()
      for (let i = 0; i < 200 && (await db.selectFrom('unshelve_moves').select('step').execute()).length > 0; i++) await new Promise((r) => setTimeout(r, 50))
      await mover.drain()
      expect(builds).toHaveLength(1)
      expect((await db.selectFrom('instance_mappings').select('cell_path').executeTakeFirstOrThrow()).cell_path).toBe('api!r2!b')
      expect(await db.selectFrom('instance_index').select(['cell_path', 'host', 'region']).executeTakeFirstOrThrow()).toEqual({ cell_path: 'api!r2!b', host: 'h2', region: 'r2' })
      expect(actions).toEqual([{ cellPath: SOURCE, instanceUuid: UUID, action: 'delete', args: {} }])
      expect(await db.selectFrom('unshelve_moves').selectAll().execute()).toEqual([])
    } finally {
      await database.close()
    }
  })
})
