import type { Kysely } from 'kysely'
import { isDuplicateKey } from '../../shared/db/database.js'
import type { RequestContext } from '../../shared/context.js'
import type { IdentityTables, RevocationKind } from './schema.js'

/** One revocation: tokens matching `kind`/`targetId` issued at or before `revokedAt` are invalid. */
export interface RevocationEvent {
  readonly kind: RevocationKind
  readonly targetId: string
  /** Epoch ms. */
  readonly revokedAt: number
  /** Epoch ms after which every token the event covers has expired anyway. */
  readonly expiresAt: number
}

/**
 * Durable home of revocation events, so that a restart (or another API process) still refuses
 * revoked tokens. The token service keeps the working set in memory; this is only read at start-up
 * and on refresh, and written on each revocation.
 */
export interface RevocationStore {
  /** Records `event`. Idempotent; of two events for the same target, the later `revokedAt` wins. */
  save(ctx: RequestContext, event: RevocationEvent): Promise<void>
  /** Events that have not expired at `nowMs`. Deletes the expired ones on the way. */
  loadActive(ctx: RequestContext, nowMs: number): Promise<RevocationEvent[]>
}

/** {@link RevocationStore} over the `token_revocations` table of the API database. */
export class KyselyRevocationStore implements RevocationStore {
  readonly #db: Kysely<IdentityTables>

  constructor(db: Kysely<IdentityTables>) {
    this.#db = db
  }

  async save(_ctx: RequestContext, event: RevocationEvent): Promise<void> {
    const row = {
      kind: event.kind,
      target_id: event.targetId,
      revoked_at: event.revokedAt,
      expires_at: event.expiresAt,
    }
    try {
      await this.#db.insertInto('token_revocations').values(row).execute()
    } catch (err) {
      if (!isDuplicateKey(err)) throw err
      // Only move forward: a late writer must not shorten a newer revocation.
      await this.#db
        .updateTable('token_revocations')
        .set({ revoked_at: event.revokedAt, expires_at: event.expiresAt })
        .where('kind', '=', event.kind)
        .where('target_id', '=', event.targetId)
        .where('revoked_at', '<', event.revokedAt)
        .execute()
    }
  }

  async loadActive(_ctx: RequestContext, nowMs: number): Promise<RevocationEvent[]> {
    await this.#db.deleteFrom('token_revocations').where('expires_at', '<=', nowMs).execute()
    const rows = await this.#db.selectFrom('token_revocations').selectAll().execute()
    return rows.map((r) => ({
      kind: r.kind,
      targetId: r.target_id,
      revokedAt: Number(r.revoked_at),
      expiresAt: Number(r.expires_at),
    }))
  }
}
