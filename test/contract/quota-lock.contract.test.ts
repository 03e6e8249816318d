import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { instancesAllowed } from '../../api-cell/compute/quotas/boot-quota.js'
import { setLimits, withQuotaLock } from '../../api-cell/compute/quotas/quota-store.js'
import { computeMigrations } from '../../api-cell/db/compute-migrations.js'
import type { ComputeTables } from '../../api-cell/db/compute-schema.js'
import type { Database, Dialect } from '../../shared/db/database.js'
import { dropMysqlSchema, migrateToLatest, openDatabase } from '../../shared/db/database.js'
import { OverQuotaError } from '../../shared/errors.js'

let sqliteDir = ''
const mysqlUrls: string[] = []

const targets: ReadonlyArray<{ dialect: Dialect; fresh: () => string; handles: number }> = [
  // One handle: SQLite's writer is the process (the embedded deployment).
  { dialect: 'sqlite', fresh: () => `sqlite:${join(sqliteDir, `${randomUUID()}.db`)}`, handles: 1 },
  // Two handles (two pools) on one schema: two API processes.
  {
    dialect: 'mysql',
    fresh: () => {
      const url = `mysql://root@127.0.0.1:3306/test_quota_${randomBytes(6).toString('hex')}`
      mysqlUrls.push(url)
      return url
    },
    handles: 2,
  },
]

beforeAll(async () => {
  sqliteDir = await mkdtemp(join(tmpdir(), 'quota-lock-'))
})
afterAll(async () => {
  await Promise.all(mysqlUrls.map((url) => dropMysqlSchema(url)))
  await rm(sqliteDir, { recursive: true, force: true })
})

/** What `POST /servers` does under the quota lock, reduced to the rows that count. */
async function boot(db: Kysely<ComputeTables>, projectId: string): Promise<'accepted' | 'over'> {
  try {
    await withQuotaLock(db, `project:${projectId}`, async (tx) => {
      const n = await instancesAllowed(tx, { projectId, userId: 'u', vcpus: 1, memoryMb: 512, minCount: 1, maxCount: 1 })
      const uuid = randomUUID()
      const now = Date.now()
      await tx
        .insertInto('instance_index')
        .values({
          uuid,
          project_id: projectId,
          user_id: 'u',
          name: 'vm',
          vm_state: 'building',
          task_state: 'scheduling',
          power_state: 0,
          host: null,
          availability_zone: null,
          cell_path: null,
          region: null,
          flavor_id: '1',
          image_ref: 'img',
          reservation_id: 'r',
          version: 0,
          created_at: now,
          updated_at: now,
        })
        .execute()
      await tx.insertInto('quota_instance_usage').values({ instance_uuid: uuid, project_id: projectId, user_id: 'u', vcpus: 1, memory_mb: 512 }).execute()
      expect(n).toBe(1)
    })
    return 'accepted'
  } catch (err) {
    if (err instanceof OverQuotaError) return 'over'
    throw err
  }
}

/** The quota lock of the compute API, on every dialect: concurrent boots never exceed the quota. */
describe.each(targets)('quota lock: $dialect', (target) => {
  let handles: Database<ComputeTables>[] = []

  beforeAll(async () => {
    const url = target.fresh()
    handles = []
    for (let i = 0; i < target.handles; i += 1) handles.push(await openDatabase<ComputeTables>(url))
    await migrateToLatest(handles[0]!.db, computeMigrations)
  })
  afterAll(async () => {
    for (const h of handles) await h.close()
  })

  it('admits exactly the quota out of many concurrent boots of one project', async () => {
    const project = `p-${randomUUID()}`
    await setLimits(handles[0]!.db, project, '', { instances: 3 })
    const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => boot(handles[i % handles.length]!.db, project)))
    expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(3)
    expect(outcomes.filter((o) => o === 'over')).toHaveLength(9)
    const rows = await handles[0]!.db.selectFrom('instance_index').select('uuid').where('project_id', '=', project).execute()
    expect(rows).toHaveLength(3)
  })

  it('does not serialise different projects against each other', async () => {
    const projects = [`a-${randomUUID()}`, `b-${randomUUID()}`]
    for (const p of projects) await setLimits(handles[0]!.db, p, '', { instances: 2 })
    const outcomes = await Promise.all(projects.flatMap((p) => Array.from({ length: 4 }, (_, i) => boot(handles[i % handles.length]!.db, p).then((o) => [p, o] as const))))
    for (const p of projects) expect(outcomes.filter(([q, o]) => q === p && o === 'accepted')).toHaveLength(2)
  })
})
