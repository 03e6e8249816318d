import { setTimeout as sleep } from 'node:timers/promises'
import { DatabaseUnavailableError } from '../errors.js'

/**
 * How a failed statement may be retried:
 * - `not_applied`: the server certainly did not apply it (never sent, deadlock victim, lock wait
 *   timeout, connection refused): a retry on a fresh connection is always safe;
 * - `unknown`: the connection died while the statement ran (killed, server gone away): a read may
 *   be retried, a write may have been applied;
 * - `permanent`: anything else (bad SQL, duplicate key...): never retried.
 */
export type FailureKind = 'not_applied' | 'unknown' | 'permanent'

const NOT_APPLIED_CODES = new Set([
  'ER_LOCK_DEADLOCK', // 1213: the transaction was rolled back
  'ER_LOCK_WAIT_TIMEOUT', // 1205: the statement was rolled back
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT', // connect timeout: never connected
  'ER_CON_COUNT_ERROR', // 1040: too many connections
  'ER_SERVER_SHUTDOWN', // 1053 while connecting
  'SQLITE_BUSY',
])
const UNKNOWN_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'ECONNRESET',
  'EPIPE',
  'ER_CONNECTION_KILLED', // MariaDB 1927
  'ER_QUERY_INTERRUPTED', // 1317
  'CR_SERVER_GONE_ERROR', // 2006
  'CR_SERVER_LOST', // 2013
  'PROTOCOL_SEQUENCE_TIMEOUT',
])
const NOT_APPLIED_ERRNOS = new Set([1205, 1213, 1040])
const UNKNOWN_ERRNOS = new Set([1053, 1927, 1317, 2006, 2013])

/** Classifies a database error (mysql2 or better-sqlite3) for retrying. */
export function failureKind(err: unknown): FailureKind {
  const e = err as { code?: unknown; errno?: unknown; message?: unknown; fatal?: unknown } | null
  if (e === null || typeof e !== 'object') return 'permanent'
  const code = typeof e.code === 'string' ? e.code : ''
  const message = typeof e.message === 'string' ? e.message : ''
  // mysql2 refuses to send on a connection it already knows is dead: nothing reached the server.
  if (/in closed state/i.test(message)) return 'not_applied'
  if (NOT_APPLIED_CODES.has(code) || (typeof e.errno === 'number' && NOT_APPLIED_ERRNOS.has(e.errno))) return 'not_applied'
  if (UNKNOWN_CODES.has(code) || (typeof e.errno === 'number' && UNKNOWN_ERRNOS.has(e.errno))) return 'unknown'
  if (e.fatal === true) return 'unknown'
  return 'permanent'
}

/** `true` for any error worth retrying or reporting as 503 (not a bug in the query). */
export function isTransientDbError(err: unknown): boolean {
  return failureKind(err) !== 'permanent'
}

/** Backoff of database retries: exponential with full jitter, bounded in total. */
export interface RetryPolicy {
  readonly firstDelayMs: number
  readonly maxDelayMs: number
  /** Retries stop once this much time has passed since the first attempt. */
  readonly budgetMs: number
}

/**
 * The default: ~8 s of retries, long enough to ride out a killed connection or a database
 * failover, short enough that an HTTP client gets its 503 before giving up on its own.
 */
export const DEFAULT_DB_RETRY: RetryPolicy = Object.freeze({ firstDelayMs: 20, maxDelayMs: 1000, budgetMs: 8000 })

/**
 * Runs `attempt` until it succeeds, fails permanently, or `retryable(err)` says no, waiting with
 * jittered exponential backoff; when the budget runs out on a transient error, throws
 * {@link DatabaseUnavailableError} (a 503 at every API) with the last error as its cause.
 */
export async function withDbRetry<T>(
  attempt: () => Promise<T>,
  opts: { readonly retryable: (err: unknown) => boolean; readonly policy?: RetryPolicy },
): Promise<T> {
  const policy = opts.policy ?? DEFAULT_DB_RETRY
  const start = Date.now()
  for (let n = 0; ; n += 1) {
    try {
      return await attempt()
    } catch (err) {
      if (!isTransientDbError(err)) throw err
      const cap = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** n)
      const delay = Math.floor(Math.random() * cap) + 1
      if (!opts.retryable(err) || Date.now() - start + delay > policy.budgetMs) {
        throw new DatabaseUnavailableError(undefined, undefined, err)
      }
      await sleep(delay)
    }
  }
}
