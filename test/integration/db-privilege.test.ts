import { randomBytes } from 'node:crypto'
import { createPool } from 'mysql2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cellMigrations } from '../../child-cell/db/migrations.js'
import { withCredentials } from '../../shared/config/credentials.js'
import { dropMysqlSchema, migrateToLatest, openDatabase } from '../../shared/db/database.js'
import { dropSchemaUsers, ensureSchemaUsers, listSchemaUsers } from '../../shared/db/mysql-admin.js'

const ADMIN = 'mysql://root@127.0.0.1:3306'
const PREFIX = `privdb${randomBytes(3).toString('hex')}`
/** Cell one's schema, and a neighbour whose name a GRANT wildcard (`_`) would also match. */
const OWN = `${PREFIX}_c_1`
const LOOKALIKE = `${PREFIX}_cx1`
const OTHER = `${PREFIX}_c_2`
const USER = `${PREFIX}_cell1`
const PASSWORD = randomBytes(12).toString('hex')

const sqlAs = (user: string, password: string) =>
  createPool({ host: '127.0.0.1', port: 3306, user, password, connectionLimit: 1 }).promise()

/** Per-cell MariaDB accounts (shared/db/mysql-admin.ts): rights on their own schema, nothing else. */
describe('per-cell database accounts', () => {
  beforeAll(async () => {
    const root = sqlAs('root', '')
    for (const s of [LOOKALIKE, OTHER]) {
      await root.query(`CREATE DATABASE \`${s}\``)
      await root.query(`CREATE TABLE \`${s}\`.secrets (v VARCHAR(20))`)
      await root.query(`INSERT INTO \`${s}\`.secrets VALUES ('theirs')`)
    }
    await root.end()
    await ensureSchemaUsers(ADMIN, [{ user: USER, password: PASSWORD, schemas: [OWN] }])
    // Twice: idempotent, and a second run must not widen anything.
    await ensureSchemaUsers(ADMIN, [{ user: USER, password: PASSWORD, schemas: [OWN] }])
  }, 60_000)

  afterAll(async () => {
    await dropSchemaUsers(ADMIN, await listSchemaUsers(ADMIN, `${PREFIX}_`))
    for (const s of [OWN, LOOKALIKE, OTHER]) await dropMysqlSchema(`${ADMIN}/${s}`)
  })

  it('runs the cell migrations and reads and writes its own schema', async () => {
    const db = await openDatabase<any>(withCredentials(`${ADMIN}/${OWN}`, USER, PASSWORD))
    try {
      await migrateToLatest(db.db, cellMigrations)
      await db.db.insertInto('cell_state').values({ key: 'k', value: 'v' }).execute()
      expect(await db.db.selectFrom('cell_state').select('value').where('key', '=', 'k').executeTakeFirst()).toEqual({ value: 'v' })
    } finally {
      await db.close()
    }
  })

  it.each([
    ['another cell\'s schema', `SELECT * FROM \`${OTHER}\`.secrets`],
    ['a schema a GRANT wildcard would have matched', `SELECT * FROM \`${LOOKALIKE}\`.secrets`],
    ['the server\'s accounts', 'SELECT User FROM mysql.user'],
    ['writing another cell\'s schema', `INSERT INTO \`${OTHER}\`.secrets VALUES ('mine')`],
    ['creating a schema', `CREATE DATABASE \`${PREFIX}_new\``],
    ['dropping another cell\'s schema', `DROP DATABASE \`${OTHER}\``],
    ['granting itself more', `GRANT ALL PRIVILEGES ON \`${OTHER}\`.* TO '${USER}'@'%'`],
  ])('refuses %s', async (_what, statement) => {
    const me = sqlAs(USER, PASSWORD)
    try {
      await expect(me.query(statement)).rejects.toMatchObject({ code: expect.stringMatching(/DENIED/) })
    } finally {
      await me.end()
    }
    const root = sqlAs('root', '')
    const [rows] = await root.query(`SELECT v FROM \`${OTHER}\`.secrets`)
    await root.end()
    expect(rows).toEqual([{ v: 'theirs' }])
  })

  it('sees no schema but its own', async () => {
    const me = sqlAs(USER, PASSWORD)
    const [rows] = await me.query(`SHOW DATABASES LIKE '${PREFIX}%'`)
    await me.end()
    expect((rows as Array<Record<string, string>>).map((r) => Object.values(r)[0])).toEqual([OWN])
  })
})
