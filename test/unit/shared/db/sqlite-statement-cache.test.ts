import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openDatabase, sql } from '../../../../shared/db/database.js'

/**
 * SQLite handles reuse prepared statements by SQL text (database.ts): the same query run again,
 * with other parameters, inside and outside transactions and across a schema change, still
 * answers what the database holds.
 */
describe('SQLite prepared-statement reuse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'throughput-stmt-cache-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('answers each run of a cached statement from the data as it is then', async () => {
    const { db, close } = await openDatabase<any>(`sqlite:${join(dir, 'a.db')}`)
    try {
      await sql`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`.execute(db)
      for (let i = 1; i <= 3; i += 1) await db.insertInto('t').values({ id: i, v: `v${i}` }).execute()
      const byId = async (id: number): Promise<unknown> => (await db.selectFrom('t').selectAll().where('id', '=', id).executeTakeFirst()) ?? null
      expect(await byId(2)).toEqual({ id: 2, v: 'v2' })
      await db.transaction().execute((tx) => tx.updateTable('t').set({ v: 'changed' }).where('id', '=', 2).execute())
      expect(await byId(2)).toEqual({ id: 2, v: 'changed' })
      // A rolled-back transaction leaves nothing, whatever statements it reused.
      await expect(
        db.transaction().execute(async (tx) => {
          await tx.insertInto('t').values({ id: 4, v: 'v4' }).execute()
          throw new Error('roll back')
        }),
      ).rejects.toThrow('roll back')
      expect(await byId(4)).toBeNull()
      // A schema change: the cached `SELECT *` now sees the new column.
      await sql`ALTER TABLE t ADD COLUMN w TEXT`.execute(db)
      expect(await byId(2)).toEqual({ id: 2, v: 'changed', w: null })
      const n = await db.selectFrom('t').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      expect(Number(n.n)).toBe(3)
    } finally {
      await close()
    }
  })
})
