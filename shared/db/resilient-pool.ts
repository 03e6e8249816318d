import type { Kysely, MysqlPool } from 'kysely'
import type { Pool, PoolConnection } from 'mysql2'
import { DatabaseUnavailableError } from '../errors.js'
import type { RetryPolicy } from './transient-errors.js'
import { DEFAULT_DB_RETRY, failureKind, withDbRetry } from './transient-errors.js'

/** Marks an error whose COMMIT may or may not have happened: the transaction is not run again. */
const COMMIT_UNKNOWN = Symbol('commitOutcomeUnknown')

type QueryCallback = (err: Error | null, result?: unknown) => void

/**
 * A mysql2 connection is dead when the server closed it (KILL, restart, wait_timeout) or a fatal
 * error hit it. mysql2 notices some deaths only when the next command fails ("Can't add new command
 * when connection is in closed state"), and a dead connection released to the pool is handed out
 * again: that was the HTTP 500 burst when MariaDB connections were killed.
 */
function isDead(c: PoolConnection): boolean {
  const x = c as unknown as { _closing?: boolean; _fatalError?: unknown; stream?: { destroyed?: boolean } }
  return x._closing === true || (x._fatalError !== undefined && x._fatalError !== null) || x.stream?.destroyed === true
}

function rawQuery(c: PoolConnection, sql: string, params: readonly unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    c.query(sql, params as unknown[], (err: unknown, result: unknown) => (err ? reject(err as Error) : resolve(result)))
  })
}

/** A live connection from `pool`, throwing away (destroying) any dead one it hands out. */
async function liveConnection(pool: Pool): Promise<PoolConnection> {
  for (let i = 0; ; i += 1) {
    const c = await new Promise<PoolConnection>((resolve, reject) => pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn))))
    if (!isDead(c) || i > 100) return c
    c.destroy()
  }
}

/**
 * One checked-out connection as Kysely sees it. Outside a transaction a statement that certainly
 * did not apply (or a read whose connection died) is retried on a fresh connection with backoff;
 * inside one nothing is retried here (the transaction as a whole is, see {@link retryTransactions}).
 * A dead connection is destroyed on release instead of going back to the pool.
 */
class ResilientConnection {
  readonly #pool: Pool
  readonly #policy: RetryPolicy
  #raw: PoolConnection
  #inTransaction = false
  #broken = false

  constructor(pool: Pool, raw: PoolConnection, policy: RetryPolicy) {
    this.#pool = pool
    this.#raw = raw
    this.#policy = policy
  }

  query(sql: string, params: readonly unknown[], cb?: QueryCallback): unknown {
    // Kysely streams with `query(sql, params).stream()`: passed through, never retried.
    if (cb === undefined) return this.#raw.query(sql, params as unknown[])
    this.#run(sql, params).then(
      (r) => cb(null, r),
      (e: unknown) => cb(e as Error),
    )
    return undefined
  }

  async #run(sql: string, params: readonly unknown[]): Promise<unknown> {
    const head = sql.trimStart().slice(0, 20).toLowerCase()
    const begins = head.startsWith('begin') || head.startsWith('start transaction')
    const ends = head.startsWith('commit') || (head.startsWith('rollback') && !head.startsWith('rollback to'))
    if (this.#inTransaction && !ends) return this.#once(sql, params)
    if (ends) {
      this.#inTransaction = false
      try {
        return await this.#once(sql, params)
      } catch (err) {
        const kind = failureKind(err)
        // The server rolls back a transaction whose connection died: nothing left to roll back.
        if (head.startsWith('rollback') && kind !== 'permanent') return []
        if (head.startsWith('commit') && kind === 'unknown') Object.defineProperty(err, COMMIT_UNKNOWN, { value: true })
        throw err
      }
    }
    // Reads and BEGIN change nothing: safe to run again even when the first try's outcome is unknown.
    const read = begins || /^(select|show|with)\b/.test(head)
    const result = await withDbRetry(
      async () => {
        if (this.#broken || isDead(this.#raw)) {
          this.#raw.destroy()
          this.#raw = await liveConnection(this.#pool)
          this.#broken = false
        }
        return this.#once(sql, params)
      },
      { retryable: (err) => failureKind(err) === 'not_applied' || (read && failureKind(err) === 'unknown'), policy: this.#policy },
    )
    if (begins) this.#inTransaction = true
    return result
  }

  async #once(sql: string, params: readonly unknown[]): Promise<unknown> {
    try {
      return await rawQuery(this.#raw, sql, params)
    } catch (err) {
      if (failureKind(err) !== 'permanent' && (failureKind(err) === 'unknown' || isDead(this.#raw))) this.#broken = true
      throw err
    }
  }

  release(): void {
    if (this.#broken || this.#inTransaction || isDead(this.#raw)) this.#raw.destroy()
    else this.#raw.release()
  }
}

/**
 * Wraps a mysql2 pool for Kysely's MysqlDialect: connections are checked (dead ones destroyed,
 * the server retried with backoff while it is unreachable), and statements outside transactions
 * retried when that is safe. Past the retry budget the caller gets a DatabaseUnavailableError (503).
 */
export function resilientPool(pool: Pool, policy: RetryPolicy = DEFAULT_DB_RETRY): MysqlPool {
  return {
    getConnection(cb) {
      withDbRetry(() => liveConnection(pool), { retryable: () => true, policy }).then(
        (raw) => cb(null, new ResilientConnection(pool, raw, policy) as never),
        (err: unknown) => cb(err as Error, undefined as never),
      )
    },
    end(cb) {
      pool.end(cb)
    },
  }
}

/**
 * `db` whose `transaction().execute(fn)` runs `fn` again (with backoff) when the transaction
 * failed on a transient error before its COMMIT: a deadlock victim, a lock wait timeout, a
 * connection killed mid-transaction. The server rolled all of it back, so a transaction of
 * database work only (every one in this code base) is idempotent to re-run. A COMMIT whose
 * outcome is unknown is not re-run: the caller gets the 503.
 */
export function retryTransactions<DB>(db: Kysely<DB>, policy: RetryPolicy = DEFAULT_DB_RETRY): Kysely<DB> {
  const wrapBuilder = (b: object): object =>
    new Proxy(b, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown
        if (typeof v !== 'function') return v
        if (prop === 'execute') {
          return (fn: unknown) =>
            withDbRetry(() => (v as (f: unknown) => Promise<unknown>).call(target, fn), {
              retryable: (err) => (err as Record<symbol, unknown>)[COMMIT_UNKNOWN] !== true,
              policy,
            }).catch((err: unknown) => {
              if (err instanceof DatabaseUnavailableError && (err.cause as Record<symbol, unknown> | undefined)?.[COMMIT_UNKNOWN] === true) {
                throw new DatabaseUnavailableError(
                  'The database connection was lost while committing: the change may or may not have been applied. Retry later.',
                  { commitOutcomeUnknown: true },
                  err.cause,
                )
              }
              throw err
            })
        }
        return (...args: unknown[]) => {
          const r = (v as (...a: unknown[]) => unknown).apply(target, args)
          return r !== null && typeof r === 'object' && r.constructor === target.constructor ? wrapBuilder(r) : r
        }
      },
    })
  return new Proxy(db, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown
      if (prop === 'transaction') return () => wrapBuilder(target.transaction())
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
}
