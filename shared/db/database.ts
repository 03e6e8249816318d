import { Kysely, Migrator, MysqlDialect, SqliteAdapter, SqliteDialect, sql } from 'kysely'
import type { Migration, MigrationProvider } from 'kysely'
import type BetterSqlite3 from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { ensurePrivateFile, PRIVATE_DIR_MODE, tightenFile } from '../fs/private-files.js'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { resilientPool, retryTransactions } from './resilient-pool.js'

/** The two dialects we run on: MariaDB/MySQL in production, SQLite embedded. */
export const DIALECTS = ['mysql', 'sqlite'] as const
/** One of {@link DIALECTS}. */
export type Dialect = (typeof DIALECTS)[number]

/** How long a SQLite connection waits for a lock before SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 5000
/** How long a migration waits for another one to release SQLite's write lock. */
const SQLITE_MIGRATION_LOCK_TIMEOUT_MS = 60_000

/**
 * An open database: a Kysely instance plus what callers need to know about the dialect.
 * Callers write portable Kysely queries; the only dialect-specific code lives in this folder.
 */
export interface Database<DB> {
  readonly db: Kysely<DB>
  readonly dialect: Dialect
  readonly url: string
  close(): Promise<void>
}

/**
 * Opens `url`:
 * - `sqlite:/abs/path/file.db` or `sqlite::memory:` (better-sqlite3, WAL, 5 s busy timeout);
 * - `mysql://user:pass@host:port/schema` (mysql2 pool; the schema is created when missing).
 *
 * @example
 *   const { db } = await openDatabase<CellSchema>('sqlite:/var/lib/federation/dc1.db')
 */
export async function openDatabase<DB>(url: string): Promise<Database<DB>> {
  if (url.startsWith('sqlite:')) return openSqlite<DB>(url)
  if (url.startsWith('mysql://')) return openMysql<DB>(url)
  throw new Error(`unsupported database url ${redactUrl(url)}: use sqlite:/path or mysql://...`)
}

async function openSqlite<DB>(url: string): Promise<Database<DB>> {
  const { default: SqliteDatabase } = await import('better-sqlite3')
  const path = url.slice('sqlite:'.length)
  if (path !== ':memory:') {
    // Private whatever the umask: the database file is created 0600 before SQLite opens it, and
    // SQLite gives its -wal/-shm/-journal files the database file's mode. Files of an older start
    // are narrowed. Only directories created here are made 0700 (an existing parent may be shared).
    mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE })
    ensurePrivateFile(path)
    for (const suffix of ['-wal', '-shm', '-journal']) tightenFile(`${path}${suffix}`)
  }
  const handle = new SqliteDatabase(path)
  handle.pragma('journal_mode = WAL')
  handle.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`)
  handle.pragma('synchronous = NORMAL')
  handle.pragma('foreign_keys = ON')
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(handle) }) })
  return { db, dialect: 'sqlite', url, close: once(() => db.destroy()) }
}

/** Prepared statements a SQLite handle keeps, most recently used last. */
const SQLITE_STATEMENT_CACHE = 500

/**
 * The handle as Kysely's SQLite driver sees it, with its prepared statements reused by SQL text:
 * Kysely prepares every query anew, which was a third of the SQLite time of a burst of builds
 * (`npm run bench -- throughput`). Safe because Kysely runs one query at a time on the handle
 * (its connection mutex) and `all`/`run` finish before the next; SQLite re-prepares a cached
 * statement by itself after a schema change.
 */
function withStatementCache(handle: BetterSqlite3.Database): { prepare(sql: string): BetterSqlite3.Statement; close(): void } {
  const cache = new Map<string, BetterSqlite3.Statement>()
  return {
    prepare: (text: string) => {
      let stmt = cache.get(text)
      if (stmt === undefined) {
        stmt = handle.prepare(text)
        if (cache.size >= SQLITE_STATEMENT_CACHE) cache.delete(cache.keys().next().value as string)
      } else {
        cache.delete(text)
      }
      cache.set(text, stmt)
      return stmt
    },
    close: () => {
      cache.clear()
      handle.close()
    },
  }
}

async function openMysql<DB>(url: string): Promise<Database<DB>> {
  const { createPool } = await import('mysql2')
  const parsed = new URL(url)
  const schema = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
  if (!/^[A-Za-z0-9_]+$/.test(schema)) throw new Error(`invalid schema name in ${redactUrl(url)}`)
  const base = {
    host: parsed.hostname,
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  }
  const bootstrap = createPool({ ...base, connectionLimit: 1 })
  await bootstrap.promise().query(`CREATE DATABASE IF NOT EXISTS \`${schema}\` CHARACTER SET utf8mb4`)
  await bootstrap.promise().end()
  const pool = createPool({
    ...base,
    database: schema,
    connectionLimit: Number(parsed.searchParams.get('pool') ?? 10),
    timezone: 'Z',
    dateStrings: true,
    // BIGINT (epoch ms) as a number while it is a safe integer, as better-sqlite3 returns it.
    supportBigNumbers: true,
    bigNumberStrings: false,
    // SUM() and AVG() of integers are DECIMAL in MySQL; without this they arrive as strings while
    // SQLite gives numbers. Our schemas have no DECIMAL columns, so nothing loses precision.
    decimalNumbers: true,
  })
  // Dead connections are dropped and transient failures retried (resilient-pool.ts); what still
  // fails becomes a DatabaseUnavailableError, a 503 at the APIs.
  const inner = new Kysely<DB>({ dialect: new MysqlDialect({ pool: resilientPool(pool) }) })
  const db = retryTransactions(inner)
  return { db, dialect: 'mysql', url, close: once(() => inner.destroy()) }
}

/**
 * Brings the database to the newest of `migrations`, running every one not run yet, in name
 * order. A migration whose name sorts before one already run is run too (Kysely's
 * `allowUnorderedMigrations`): one database holds several families (`compute_…`, `image_…`), and
 * a new `compute_00NN` must upgrade a database where `image_0001` ran long ago.
 * Safe to run concurrently, from one handle or several, in one process or several:
 * - MySQL: Kysely's migration lock (`GET_LOCK`). MySQL has no transactional DDL, so when one
 *   migration fails the ones before it in the same run stay applied;
 * - SQLite: Kysely takes no lock there, so the whole run happens in one `BEGIN IMMEDIATE`
 *   transaction (the database's single writer lock), all or nothing. The lock is awaited
 *   asynchronously, so two handles in one process do not block each other's event loop.
 *   A migration must therefore not open a transaction of its own.
 */
export async function migrateToLatest(db: Kysely<any>, migrations: Readonly<Record<string, Migration>>): Promise<void> {
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve({ ...migrations }) }
  const migrate = (k: Kysely<any>) => new Migrator({ db: k, provider, allowUnorderedMigrations: true }).migrateToLatest()
  const { error, results } =
    db.getExecutor().adapter instanceof SqliteAdapter
      ? await db.connection().execute((conn) => inSqliteWriteTransaction(conn, migrate))
      : await migrate(db)
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new Error(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    })
  }
}

/**
 * Runs `fn` on one connection inside `BEGIN IMMEDIATE`, committing when it returns a result
 * without `error` and rolling back otherwise. better-sqlite3 waits for a lock synchronously, so
 * the busy timeout is lifted while we poll for the lock, and restored afterwards.
 */
async function inSqliteWriteTransaction<T extends { error?: unknown }>(
  conn: Kysely<any>,
  fn: (conn: Kysely<any>) => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + SQLITE_MIGRATION_LOCK_TIMEOUT_MS
  await sql`pragma busy_timeout = 0`.execute(conn)
  try {
    for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
      try {
        await sql`begin immediate`.execute(conn)
        break
      } catch (err) {
        if (!isSqliteBusy(err) || Date.now() >= deadline) throw err
        await sleep(delay)
      }
    }
  } finally {
    await sql.raw(`pragma busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`).execute(conn)
  }
  // SQLite may have rolled back on its own (e.g. disk full): then there is nothing to roll back.
  const rollback = () => sql`rollback`.execute(conn).then(
    () => undefined,
    () => undefined,
  )
  let result: T
  try {
    result = await fn(conn)
  } catch (err) {
    await rollback()
    throw err
  }
  if (result.error === undefined) await sql`commit`.execute(conn)
  else await rollback()
  return result
}

function isSqliteBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}

/** Drops a MySQL schema (tests and `cellctl cell delete --force`). No-op for SQLite. */
export async function dropMysqlSchema(url: string): Promise<void> {
  if (!url.startsWith('mysql://')) return
  const { createPool } = await import('mysql2')
  const parsed = new URL(url)
  const schema = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
  if (!/^[A-Za-z0-9_]+$/.test(schema)) throw new Error('invalid schema name')
  const pool = createPool({
    host: parsed.hostname,
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    connectionLimit: 1,
  })
  await pool.promise().query(`DROP DATABASE IF EXISTS \`${schema}\``)
  await pool.promise().end()
}

/** The URL with its password replaced: URLs may be logged, secrets never. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@')
}

/** `true` when the error is a unique-key violation in either dialect. */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: string; errno?: number } | undefined
  return e?.code === 'ER_DUP_ENTRY' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE'
}

/** Current time as epoch milliseconds, the one time representation our schemas use. */
export const now = (): number => Date.now()

export { sql }

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined
  return () => (p ??= fn())
}
