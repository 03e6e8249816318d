import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cell0Store, cell0Migrations } from '../../../../api-cell/cells/cell0.js'
import type { Cell0Schema } from '../../../../api-cell/cells/cell0.js'
import { computeMigrations } from '../../../../api-cell/db/compute-migrations.js'
import type { ComputeTables } from '../../../../api-cell/db/compute-schema.js'
import { recordInCell0 } from '../../../../api-cell/scheduler/cell0-record.js'
import type { BuildSpec } from '../../../../shared/cell-link/build-spec.js'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'
import { buildSpecFixture } from '../../../helpers/build-spec.js'

/**
 * Issue #9 (the separate-sites rehearsal): while the API still waited on an answer for a build's
 * first attempt, a leaf handed the build back and a second attempt was being placed; the first
 * attempt then reached its deadline and recorded the build in cell0, so the copy the second
 * attempt placed was deleted as an orphan. A failed attempt records cell0 only if it still owns
 * the build request.
 */
describe('recordInCell0: a failed attempt never takes over a newer one', () => {
  let api: Database<ComputeTables>
  let c0: Database<Cell0Schema>
  let cell0: Cell0Store

  const pending = async (spec: BuildSpec): Promise<void> => {
    await api.db.insertInto('instance_mappings').values({ instance_uuid: spec.instanceUuid, cell_path: null, project_id: spec.projectId, user_id: spec.userId, region: null, queued_for_delete: 0, created_at: 0 }).execute()
    await api.db.insertInto('build_requests').values({ instance_uuid: spec.instanceUuid, project_id: spec.projectId, spec: JSON.stringify(spec), region: null, created_at: 0 }).execute()
  }
  const mapping = (uuid: string) => api.db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', uuid).executeTakeFirstOrThrow()
  const request = (uuid: string) => api.db.selectFrom('build_requests').select('spec').where('instance_uuid', '=', uuid).executeTakeFirst()

  beforeEach(async () => {
    api = await openDatabase<ComputeTables>('sqlite::memory:')
    await migrateToLatest(api.db, computeMigrations)
    c0 = await openDatabase<Cell0Schema>('sqlite::memory:')
    await migrateToLatest(c0.db, cell0Migrations)
    cell0 = new Cell0Store(c0.db)
  })
  afterEach(async () => {
    await api.close()
    await c0.close()
  })

  it.each([
    ['the first attempt, after a leaf handed the build back (attempt 1 pending)', 0, 1, false],
    ['an attempt after a hand-back, the request back at attempt 2', 1, 2, false],
    ['the attempt that owns the request', 1, 1, true],
    ['a first attempt never handed back', 0, 0, true],
  ])('%s: recorded = %s', async (_what, failed, current, recorded) => {
    const spec = buildSpecFixture(current === 0 ? {} : { retry: { attempt: current, triedCells: ['api!r!a'], faults: ['api!r!a: broken'], versionBase: 3 } })
    await pending(spec)
    const out = await recordInCell0({ db: api.db, cell0 }, { uuid: spec.instanceUuid, reasons: ['api!r: outcome unknown at the deadline'], attempt: failed })
    expect(out).toBe(recorded)
    expect((await mapping(spec.instanceUuid)).cell_path).toBe(recorded ? 'cell0' : null)
    expect((await request(spec.instanceUuid)) === undefined).toBe(recorded)
    expect((await cell0.get([spec.instanceUuid])).length > 0).toBe(recorded)
  })
})
