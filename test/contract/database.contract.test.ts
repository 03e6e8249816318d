import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kysely, Migration } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dropMysqlSchema, isDuplicateKey, migrateToLatest, openDatabase, sql } from '../../shared/db/database.js'
import type { Database, Dialect } from '../../shared/db/database.js'

interface ItemTable {
  id: string
  name: string
  used: number
  cap: number
  created_at: number
  ratio: number
  notes: string | null
}
interface TestSchema {
  dbc_item: ItemTable
}

/** A small schema in two steps: a table with every column type we use, an index, a unique index. */
const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_create_item': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('dbc_item')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('used', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('cap', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('ratio', 'double precision', (c) => c.notNull())
        .addColumn('notes', 'text')
        .execute()
      await db.schema.createIndex('dbc_item_created_at_idx').on('dbc_item').column('created_at').execute()
    },
  },
  '0002_unique_name': {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('dbc_item_name_uq').unique().on('dbc_item').column('name').execute()
    },
  },
}

interface Target {
  readonly dialect: Dialect
  /** A URL to a database nobody has used yet. */
  fresh(): string
}

let sqliteDir = ''
const mysqlUrls: string[] = []

const targets: readonly Target[] = [
  { dialect: 'sqlite', fresh: () => `sqlite:${join(sqliteDir, `${randomUUID()}.db`)}` },
  {
    dialect: 'mysql',
    fresh: () => {
      const url = `mysql://root@127.0.0.1:3306/test_dbc_${randomBytes(6).toString('hex')}`
      mysqlUrls.push(url)
      return url
    },
  },
]

beforeAll(async () => {
  sqliteDir = await mkdtemp(join(tmpdir(), 'database-contract-'))
})
afterAll(async () => {
  await Promise.all(mysqlUrls.map((url) => dropMysqlSchema(url)))
  await rm(sqliteDir, { recursive: true, force: true })
})

function item(overrides: Partial<ItemTable> = {}): ItemTable {
  return {
    id: randomUUID(),
    name: `item-${randomUUID()}`,
    used: 0,
    cap: 100,
    created_at: 1_700_000_000_123,
    ratio: 1.5,
    notes: null,
    ...overrides,
  }
}

async function migrationCount(db: Kysely<any>): Promise<number> {
  const row = await db.selectFrom('kysely_migration').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}

/** Names of the indexes on dbc_item, read from each dialect's catalogue. */
async function indexNames(database: Database<TestSchema>): Promise<string[]> {
  if (database.dialect === 'sqlite') {
    const { rows } = await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'dbc_item'`.execute(database.db)
    return rows.map((r) => r.name)
  }
  const { rows } = await sql<{ name: string }>`
    select distinct index_name as name from information_schema.statistics
    where table_schema = database() and table_name = 'dbc_item'`.execute(database.db)
  return rows.map((r) => r.name)
}

/** `used = used + amount` only while it stays within `cap`: how claims are taken without over-commit. */
async function claim(db: Kysely<TestSchema>, id: string, amount: number): Promise<bigint> {
  const result = await db
    .updateTable('dbc_item')
    .set((eb) => ({ used: eb('used', '+', amount) }))
    .where('id', '=', id)
    .where((eb) => eb(eb('used', '+', amount), '<=', eb.ref('cap')))
    .executeTakeFirst()
  return result.numUpdatedRows
}

describe.each(targets)('Database contract: $dialect', (target) => {
  let database: Database<TestSchema>
  let db: Kysely<TestSchema>

  beforeAll(async () => {
    database = await openDatabase<TestSchema>(target.fresh())
    db = database.db
    await migrateToLatest(db, MIGRATIONS)
  })
  afterAll(async () => {
    await database.close()
  })

  it('opens the dialect its URL names', () => {
    expect(database.dialect).toBe(target.dialect)
  })

  it('applies the migrations: table, columns, index and unique index', async () => {
    const tables = await db.introspection.getTables()
    const table = tables.find((t) => t.name === 'dbc_item')
    expect(table?.columns.map((c) => c.name).sort()).toEqual(['cap', 'created_at', 'id', 'name', 'notes', 'ratio', 'used'])
    expect(table?.columns.find((c) => c.name === 'notes')?.isNullable).toBe(true)
    expect(table?.columns.find((c) => c.name === 'name')?.isNullable).toBe(false)
    expect(await indexNames(database)).toEqual(expect.arrayContaining(['dbc_item_created_at_idx', 'dbc_item_name_uq']))
    expect(await migrationCount(db)).toBe(2)
  })

  it('is idempotent: running the migrations again changes nothing and keeps the data', async () => {
    const row = item()
    await db.insertInto('dbc_item').values(row).execute()
    await migrateToLatest(db, MIGRATIONS)
    await migrateToLatest(db, MIGRATIONS)
    expect(await migrationCount(db)).toBe(2)
    expect(await db.selectFrom('dbc_item').selectAll().where('id', '=', row.id).executeTakeFirst()).toEqual(row)
  })

  it('migrates a fresh database from two handles at once', async () => {
    const url = target.fresh()
    const handles = await Promise.all([openDatabase<TestSchema>(url), openDatabase<TestSchema>(url), openDatabase<TestSchema>(url)])
    try {
      await Promise.all(handles.map((h) => migrateToLatest(h.db, MIGRATIONS)))
      for (const h of handles) expect(await migrationCount(h.db)).toBe(2)
      const row = item()
      await handles[0]!.db.insertInto('dbc_item').values(row).execute()
      expect(await handles[2]!.db.selectFrom('dbc_item').select('id').execute()).toEqual([{ id: row.id }])
    } finally {
      await Promise.all(handles.map((h) => h.close()))
    }
  })

  it('migrates a fresh database twice at once through one handle', async () => {
    const fresh = await openDatabase<TestSchema>(target.fresh())
    try {
      await Promise.all([migrateToLatest(fresh.db, MIGRATIONS), migrateToLatest(fresh.db, MIGRATIONS)])
      expect(await migrationCount(fresh.db)).toBe(2)
      expect(await indexNames(fresh)).toEqual(expect.arrayContaining(['dbc_item_created_at_idx', 'dbc_item_name_uq']))
    } finally {
      await fresh.close()
    }
  })

  it('runs a new migration whose name sorts before one already run (a family added later: compute_00NN after image_0001)', async () => {
    const fresh = await openDatabase<TestSchema>(target.fresh())
    try {
      const later: Record<string, Migration> = {
        zz_later_0001: { up: (k: Kysely<any>) => k.schema.createTable('dbc_later').addColumn('id', 'varchar(36)', (c) => c.primaryKey()).execute() },
      }
      await migrateToLatest(fresh.db, { ...MIGRATIONS, ...later })
      const added: Record<string, Migration> = {
        '0001a_added': { up: (k: Kysely<any>) => k.schema.createTable('dbc_added').addColumn('id', 'varchar(36)', (c) => c.primaryKey()).execute() },
      }
      await migrateToLatest(fresh.db, { ...MIGRATIONS, ...later, ...added })
      expect(await migrationCount(fresh.db)).toBe(4)
      await fresh.db.insertInto('dbc_added' as never).values({ id: 'x' } as never).execute()
    } finally {
      await fresh.close()
    }
  })

  it('reports a failing migration by name and keeps the ones applied before', async () => {
    const fresh = await openDatabase<TestSchema>(target.fresh())
    try {
      await migrateToLatest(fresh.db, MIGRATIONS)
      const broken: Record<string, Migration> = {
        ...MIGRATIONS,
        '0003_broken': { up: (k: Kysely<any>) => sql`select * from no_such_table`.execute(k).then(() => undefined) },
      }
      await expect(migrateToLatest(fresh.db, broken)).rejects.toThrow(/0003_broken/)
      expect(await migrationCount(fresh.db)).toBe(2)
      await fresh.db.insertInto('dbc_item').values(item()).execute()
    } finally {
      await fresh.close()
    }
  })

  it('on a failed first run keeps nothing on SQLite (one transaction), the earlier steps on MySQL (no transactional DDL)', async () => {
    const fresh = await openDatabase<TestSchema>(target.fresh())
    try {
      const broken: Record<string, Migration> = {
        ...MIGRATIONS,
        '0003_broken': { up: (k: Kysely<any>) => sql`select * from no_such_table`.execute(k).then(() => undefined) },
      }
      await expect(migrateToLatest(fresh.db, broken)).rejects.toThrow(/0003_broken/)
      const tables = (await fresh.db.introspection.getTables()).map((t) => t.name)
      expect(tables.includes('dbc_item')).toBe(target.dialect === 'mysql')
      await migrateToLatest(fresh.db, MIGRATIONS)
      expect(await migrationCount(fresh.db)).toBe(2)
    } finally {
      await fresh.close()
    }
  })

  it.each([
    ['plain values', item()],
    [
      'limits and unicode',
      item({
        name: 'naïve 🚀 名前 \'quoted\' "double" \\ back',
        used: -2147483648,
        cap: 2147483647,
        created_at: Number.MAX_SAFE_INTEGER,
        ratio: 0.1 + 0.2,
        notes: 'é🙂'.repeat(5000),
      }),
    ],
    ['zeros and empty text', item({ used: 0, cap: 0, created_at: 0, ratio: -0.000001, notes: '' })],
    ['a whole double', item({ ratio: 3, created_at: 4_102_444_800_000 })],
  ])('round-trips every column type with the same JS types (%s)', async (_label, row) => {
    await db.insertInto('dbc_item').values(row).execute()
    const back = await db.selectFrom('dbc_item').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow()
    expect(back).toEqual(row)
    expect(typeof back.used).toBe('number')
    expect(typeof back.cap).toBe('number')
    expect(typeof back.created_at).toBe('number')
    expect(typeof back.ratio).toBe('number')
    expect(back.notes === null || typeof back.notes === 'string').toBe(true)
  })

  it('returns aggregates as numbers', async () => {
    const tag = randomUUID()
    const rows = [item({ name: `${tag}-a`, used: 3, ratio: 0.5 }), item({ name: `${tag}-b`, used: 4, ratio: 1.5, created_at: 1_800_000_000_000 })]
    await db.insertInto('dbc_item').values(rows).execute()
    const agg = await db
      .selectFrom('dbc_item')
      .where('name', 'like', `${tag}-%`)
      .select((eb) => [
        eb.fn.countAll<number>().as('n'),
        eb.fn.sum<number>('used').as('total'),
        eb.fn.max<number>('created_at').as('newest'),
        eb.fn.avg<number>('ratio').as('mean'),
      ])
      .executeTakeFirstOrThrow()
    expect(agg).toEqual({ n: 2, total: 7, newest: 1_800_000_000_000, mean: 1 })
  })

  it('recognises unique violations, on the primary key and on a unique index, and nothing else', async () => {
    const row = item()
    await db.insertInto('dbc_item').values(row).execute()
    const error = (p: Promise<unknown>): Promise<unknown> => p.then(() => expect.fail('expected a database error'), (e: unknown) => e)

    expect(isDuplicateKey(await error(db.insertInto('dbc_item').values({ ...row, name: `other-${row.name}` }).execute()))).toBe(true)
    expect(isDuplicateKey(await error(db.insertInto('dbc_item').values({ ...item(), name: row.name }).execute()))).toBe(true)
    expect(
      isDuplicateKey(await error(db.insertInto('dbc_item').values({ ...item(), name: null as unknown as string }).execute())),
    ).toBe(false)
    expect(isDuplicateKey(await error(sql`select * from no_such_table`.execute(db)))).toBe(false)
    expect(isDuplicateKey(new Error('duplicate'))).toBe(false)
    expect(isDuplicateKey(undefined)).toBe(false)
  })

  it('never exceeds the cap under 50 concurrent conditional updates, and counts rows right', async () => {
    const row = item({ cap: 100 })
    await db.insertInto('dbc_item').values(row).execute()
    const amounts = Array.from({ length: 50 }, (_, i) => (i % 7) + 1)
    const counts = await Promise.all(amounts.map((x) => claim(db, row.id, x)))

    for (const n of counts) expect([0n, 1n]).toContain(n)
    const { used } = await db.selectFrom('dbc_item').select('used').where('id', '=', row.id).executeTakeFirstOrThrow()
    const granted = amounts.filter((_, i) => counts[i] === 1n)
    const refused = amounts.filter((_, i) => counts[i] === 0n)
    expect(used).toBe(granted.reduce((a, b) => a + b, 0))
    expect(used).toBeLessThanOrEqual(100)
    expect(refused.length).toBeGreaterThan(0)
    // Usage only grows, so each refused claim would still not fit at the end.
    for (const x of refused) expect(used + x).toBeGreaterThan(100)
  })

  it('grants exactly cap claims of one under 50 concurrent attempts', async () => {
    const row = item({ cap: 20 })
    await db.insertInto('dbc_item').values(row).execute()
    const counts = await Promise.all(Array.from({ length: 50 }, () => claim(db, row.id, 1)))
    expect(counts.filter((n) => n === 1n)).toHaveLength(20)
    expect(counts.filter((n) => n === 0n)).toHaveLength(30)
    expect(await db.selectFrom('dbc_item').select('used').where('id', '=', row.id).executeTakeFirstOrThrow()).toEqual({ used: 20 })
  })

  it('counts a matched row as updated even when no value changes', async () => {
    const row = item({ used: 5 })
    await db.insertInto('dbc_item').values(row).execute()
    expect(await claim(db, row.id, 0)).toBe(1n)
    expect(await claim(db, randomUUID(), 0)).toBe(0n)
  })

  it('rolls a transaction back when its callback throws, and commits when it returns', async () => {
    const row = item({ used: 1 })
    await db.insertInto('dbc_item').values(row).execute()
    const inserted = item()
    const boom = new Error('boom')

    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('dbc_item').values(inserted).execute()
        expect(await claim(trx, row.id, 10)).toBe(1n)
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(await db.selectFrom('dbc_item').select('id').where('id', '=', inserted.id).execute()).toEqual([])
    expect(await db.selectFrom('dbc_item').select('used').where('id', '=', row.id).executeTakeFirstOrThrow()).toEqual({ used: 1 })

    await db.transaction().execute(async (trx) => {
      await trx.insertInto('dbc_item').values(inserted).execute()
      await claim(trx, row.id, 10)
    })
    expect(await db.selectFrom('dbc_item').select('id').where('id', '=', inserted.id).execute()).toEqual([{ id: inserted.id }])
    expect(await db.selectFrom('dbc_item').select('used').where('id', '=', row.id).executeTakeFirstOrThrow()).toEqual({ used: 11 })
  })

  it('rolls back a transaction that fails on a duplicate key', async () => {
    const row = item()
    await db.insertInto('dbc_item').values(row).execute()
    const first = item()
    const err: unknown = await db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('dbc_item').values(first).execute()
        await trx.insertInto('dbc_item').values({ ...item(), name: row.name }).execute()
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(isDuplicateKey(err)).toBe(true)
    expect(await db.selectFrom('dbc_item').select('id').where('id', '=', first.id).execute()).toEqual([])
  })
})
