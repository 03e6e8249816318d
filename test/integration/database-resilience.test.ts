import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dropMysqlSchema, openDatabase, sql } from '../../shared/db/database.js'
import type { Database } from '../../shared/db/database.js'
import { failureKind } from '../../shared/db/transient-errors.js'
import { DatabaseUnavailableError } from '../../shared/errors.js'
import type { TcpProxy } from '../helpers/tcp-proxy.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

interface Schema {
  dbr_counter: { id: number; n: number }
}

const root = async (q: string): Promise<unknown[]> => {
  const { createConnection } = await import('mysql2/promise')
  const c = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root' })
  try {
    const [rows] = await c.query(q)
    return rows as unknown[]
  } finally {
    await c.end()
  }
}

/** KILLs every server connection using `schema` (the ones a pool keeps open). */
async function killConnections(schema: string): Promise<number> {
  const rows = (await root('SHOW PROCESSLIST')) as Array<{ Id: number; db: string | null }>
  const mine = rows.filter((r) => r.db === schema)
  for (const r of mine) await root(`KILL ${r.Id}`).catch(() => undefined)
  return mine.length
}

/** The pool under connection kills and a database that goes away and comes back (real MariaDB). */
describe('database connections: killed, away, back', () => {
  const schema = `dbr_${randomBytes(4).toString('hex')}`
  let proxy: TcpProxy
  let h: Database<Schema>

  beforeAll(async () => {
    proxy = await startTcpProxy({ host: '127.0.0.1', port: 3306 })
    h = await openDatabase<Schema>(`mysql://root@127.0.0.1:${proxy.port}/${schema}?pool=4`)
    await h.db.schema.createTable('dbr_counter').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('n', 'integer', (c) => c.notNull()).execute()
    await h.db.insertInto('dbr_counter').values({ id: 1, n: 0 }).execute()
  })
  afterAll(async () => {
    await h?.close()
    await proxy?.close()
    await dropMysqlSchema(`mysql://root@127.0.0.1:3306/${schema}`)
  })

  it('classifies what may be retried', () => {
    expect(failureKind(Object.assign(new Error("Can't add new command when connection is in closed state"), { fatal: true }))).toBe('not_applied')
    expect(failureKind({ code: 'ER_LOCK_DEADLOCK', errno: 1213 })).toBe('not_applied')
    expect(failureKind({ code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 })).toBe('not_applied')
    expect(failureKind({ code: 'PROTOCOL_CONNECTION_LOST', fatal: true })).toBe('unknown')
    expect(failureKind({ errno: 2006 })).toBe('unknown')
    expect(failureKind({ code: 'ER_DUP_ENTRY', errno: 1062 })).toBe('permanent')
    expect(failureKind({ code: 'ER_PARSE_ERROR', errno: 1064 })).toBe('permanent')
  })

  it('reads and transactions survive their connections being killed mid-burst', async () => {
    const work = async (i: number): Promise<void> => {
      if (i % 2 === 0) {
        await h.db.selectFrom('dbr_counter').selectAll().execute()
        return
      }
      await h.db.transaction().execute(async (tx) => {
        const row = await tx.selectFrom('dbr_counter').select('n').where('id', '=', 1).executeTakeFirstOrThrow()
        await tx.updateTable('dbr_counter').set({ n: row.n + 1 }).where('id', '=', 1).where('n', '=', row.n).execute()
      })
    }
    const ops: Promise<PromiseSettledResult<void>>[] = []
    for (let round = 0; round < 5; round += 1) {
      for (let i = 0; i < 20; i += 1) ops.push(Promise.allSettled([work(i)]).then(([r]) => r!))
      await killConnections(schema)
    }
    const results = await Promise.all(ops)
    // Only a transaction whose COMMIT was cut may fail, as a 503 that says its outcome is unknown.
    const failed = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .filter((r) => !(r.reason instanceof DatabaseUnavailableError && r.reason.fields['commitOutcomeUnknown'] === true))
      .map((r) => String(r.reason))
    expect(failed).toEqual([])
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(50)
    // The pool is healthy afterwards: no closed connection is handed out again.
    await killConnections(schema)
    for (let i = 0; i < 10; i += 1) expect(await h.db.selectFrom('dbr_counter').select('n').executeTakeFirst()).toBeDefined()
  })

  it('answers DatabaseUnavailableError while the server is away, then recovers without a reopen', async () => {
    await proxy.down()
    const err = await h.db
      .selectFrom('dbr_counter')
      .selectAll()
      .execute()
      .then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(DatabaseUnavailableError)
    expect((err as DatabaseUnavailableError).status).toBe(503)
    const txErr = await h.db
      .transaction()
      .execute((tx) => tx.updateTable('dbr_counter').set({ n: 0 }).execute())
      .then(() => undefined, (e: unknown) => e)
    expect(txErr).toBeInstanceOf(DatabaseUnavailableError)
    await proxy.up()
    const rows = await h.db.selectFrom('dbr_counter').selectAll().execute()
    expect(rows).toHaveLength(1)
    await h.db.transaction().execute((tx) => tx.updateTable('dbr_counter').set({ n: 7 }).execute())
    expect((await sql<{ n: number }>`select n from dbr_counter`.execute(h.db)).rows[0]?.n).toBe(7)
  })
})
