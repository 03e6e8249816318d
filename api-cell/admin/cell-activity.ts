import type { RequestContext } from '../../shared/context.js'
import { InvalidError } from '../../shared/errors.js'
import { CELL0_PATH } from '../cells/cell0.js'
import type { BuildLogEntry } from '../scheduler/build-log.js'
import { askCell, messageOf } from './cell-admin-call.js'
import { cellRow } from './cell-reads.js'
import type { AdminDeps } from './deps.js'

/** A cell's outbox: instance events written but not yet acknowledged by its parent. */
export interface OutboxView {
  readonly cell_path: string
  /** Null when the cell could not be asked (see `error`). */
  readonly pending: number | null
  /** Seconds since the oldest unacknowledged event was written: the lag of the upward stream (0 when empty). */
  readonly oldest_age_s: number | null
  readonly error: string | null
}

/**
 * The outbox lag of one registered cell, asked of the cell itself (CellAdmin `outbox_stats`, its
 * conductor's count of events its parent has not acknowledged). An unreachable cell is not an
 * error of the request: it answers with `error` set, so a page showing many cells still renders.
 */
export async function outboxView(d: AdminDeps, ctx: RequestContext, path: string): Promise<OutboxView> {
  if (path === CELL0_PATH) throw new InvalidError('cell0 has no outbox: it is written by the API cell itself.')
  await cellRow(d.db, path)
  try {
    const r = (await askCell(d.tree, ctx, path, 'outbox_stats', {})) as { pending?: unknown; oldestCreatedAt?: unknown } | null
    const pending = typeof r?.pending === 'number' ? r.pending : 0
    const oldest = typeof r?.oldestCreatedAt === 'number' ? r.oldestCreatedAt : null
    const age = oldest === null ? 0 : Math.round(Math.max(0, Date.now() - oldest) / 100) / 10
    return { cell_path: path, pending, oldest_age_s: age, error: null }
  } catch (err) {
    return { cell_path: path, pending: null, oldest_age_s: null, error: messageOf(err) }
  }
}

/** Default and largest number of builds `GET /builds` answers. */
export const BUILD_PAGE = { default: 20, max: 200 } as const

/** Parses `limit` of `GET /builds` (a 400 when not a whole number in range). */
export function buildLimit(raw: unknown): number {
  if (raw === undefined || raw === '') return BUILD_PAGE.default
  const n = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN
  if (!Number.isInteger(n) || n < 1 || n > BUILD_PAGE.max) throw new InvalidError(`Invalid limit query: must be a whole number from 1 to ${BUILD_PAGE.max}`)
  return n
}

/**
 * The latest builds the global scheduler dispatched (newest first): placed ones with their cell
 * and host, ERROR ones with their reasons, and the cells that refused each on the way. With
 * `cell`, those that concern its subtree (an unregistered cell is a 404).
 */
export async function recentBuilds(d: AdminDeps, cell: string | null, limit: number): Promise<{ builds: BuildLogEntry[] }> {
  if (cell !== null) await cellRow(d.db, cell)
  return { builds: d.builds?.recent({ cell, limit }) ?? [] }
}
