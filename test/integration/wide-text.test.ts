import { randomBytes, randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { computeMigrations } from '../../api-cell/db/compute-migrations.js'
import { cellMigrations } from '../../child-cell/db/migrations.js'
import { dropMysqlSchema, migrateToLatest, openDatabase, sql } from '../../shared/db/database.js'

/**
 * Records a valid request can make larger than MariaDB's TEXT (64 KiB) fit: the API's build spec
 * with the largest user_data Nova accepts, a cell's instance with 128 metadata values of 255
 * multi-byte characters. Before the MEDIUMTEXT migrations both inserts failed (a 500 to the user).
 */
describe('MariaDB: columns that valid requests can fill past 64 KiB', () => {
  const urls: string[] = []
  const open = async (migrations: Parameters<typeof migrateToLatest>[1]) => {
    const url = `mysql://root@127.0.0.1:3306/test_wide_${randomBytes(6).toString('hex')}`
    urls.push(url)
    const database = await openDatabase<any>(url)
    await migrateToLatest(database.db, migrations)
    return database
  }
  const typeOf = async (database: Awaited<ReturnType<typeof open>>, table: string, column: string): Promise<string> => {
    const r = await sql<{ t: string }>`SELECT DATA_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table} AND COLUMN_NAME = ${column}`.execute(database.db)
    return r.rows[0]?.t ?? ''
  }

  afterAll(async () => {
    for (const url of urls) await dropMysqlSchema(url)
  })

  it('stores a build request whose spec carries 64 KiB of user_data', async () => {
    const database = await open(computeMigrations)
    try {
      expect(await typeOf(database, 'build_requests', 'spec')).toBe('mediumtext')
      const spec = JSON.stringify({ userData: 'A'.repeat(65_535), metadata: { k: 'v' } })
      expect(spec.length).toBeGreaterThan(65_535)
      const uuid = randomUUID()
      await database.db.insertInto('build_requests').values({ instance_uuid: uuid, project_id: 'p', spec, region: null, created_at: Date.now() }).execute()
      const back = await database.db.selectFrom('build_requests').select('spec').where('instance_uuid', '=', uuid).executeTakeFirstOrThrow()
      expect(back.spec).toBe(spec)
    } finally {
      await database.close()
    }
  })

  it('widens the cell columns that hold metadata, user_data, build specs and event payloads', async () => {
    const database = await open(cellMigrations)
    try {
      for (const [table, column] of [['instances', 'metadata'], ['instances', 'user_data'], ['build_specs', 'spec'], ['outbox', 'payload']] as const) {
        expect(await typeOf(database, table, column), `${table}.${column}`).toBe('mediumtext')
      }
      // 128 values of 255 four-byte characters: 130 KiB of UTF-8, in a build spec as in metadata.
      const metadata = Object.fromEntries(Array.from({ length: 128 }, (_, i) => [`key-${i}`, '😀'.repeat(255)]))
      const spec = JSON.stringify({ metadata, userData: 'A'.repeat(65_535) })
      expect(Buffer.byteLength(spec)).toBeGreaterThan(128 * 1024)
      const uuid = randomUUID()
      await database.db.insertInto('build_specs').values({ instance_uuid: uuid, spec, tried_hosts: '[]', faults: '[]', created_at: Date.now() }).execute()
      const back = await database.db.selectFrom('build_specs').select('spec').where('instance_uuid', '=', uuid).executeTakeFirstOrThrow()
      expect(back.spec).toBe(spec)
    } finally {
      await database.close()
    }
  })
})
