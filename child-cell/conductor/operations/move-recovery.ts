import type { RequestContext } from '../../../shared/context.js'
import { MOVE_STEP_TIMEOUT_MS } from '../../compute/rpc-api.js'
import type { ConductorDeps } from '../deps.js'
import { failLiveMigration } from './live-migrate.js'
import { finishConfirm, finishRevert } from './move-finish.js'
import { compensateMove, failEvacuation } from './move-steps.js'

/**
 * A move untouched this long was interrupted (its conductor stopped midway): every step of a live
 * one answers within {@link MOVE_STEP_TIMEOUT_MS}, and each step bumps the migration's updated_at.
 */
export const STUCK_MOVE_MS = 3 * MOVE_STEP_TIMEOUT_MS

/** Statuses a move passes through while the conductor drives it (`finished` waits for the user instead). */
const DRIVEN = ['pre-migrating', 'migrating', 'post-migrating', 'confirming', 'reverting', 'accepted', 'queued', 'running'] as const

/**
 * Finishes what a stopped conductor left half done, from the `migrations` rows (any conductor of
 * the cell may run it): a confirm or a revert under way is completed (their steps are idempotent);
 * a resize, migration, live migration or evacuation still under way is compensated, back on its
 * source (an evacuation: ERROR on its dead host), since the step it was waiting for may or may not
 * have happened. Returns how many moves it recovered.
 */
export async function recoverStuckMoves(d: ConductorDeps, ctx: RequestContext, olderThanMs = STUCK_MOVE_MS): Promise<number> {
  const stuck = await d.db
    .selectFrom('migrations')
    .selectAll()
    .where('status', 'in', [...DRIVEN])
    .where('updated_at', '<=', Date.now() - olderThanMs)
    .orderBy('id')
    .execute()
  for (const m of stuck) {
    d.log.warn({ requestId: ctx.requestId, instance: m.instance_uuid, migration: m.uuid, status: m.status }, 'recovering an interrupted move')
    const why = `interrupted in status ${m.status} (the conductor stopped)`
    if (m.status === 'confirming') await finishConfirm(d, ctx, m)
    else if (m.status === 'reverting') {
      const row = await d.db.selectFrom('instances').selectAll().where('uuid', '=', m.instance_uuid).executeTakeFirst()
      if (row !== undefined) await finishRevert(d, ctx, m, row)
    } else if (m.migration_type === 'evacuation') await failEvacuation(d, ctx, m, why)
    else if (m.migration_type === 'live-migration') await failLiveMigration(d, ctx, m, why)
    else await compensateMove(d, ctx, m, why)
  }
  return stuck.length
}
