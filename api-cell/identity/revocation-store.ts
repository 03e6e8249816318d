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

/**
 * What must happen to live tokens when identity data they were built from changes. The identity
 * store calls it on every change that takes something away (a grant, a role, a user, a project, a
 * password), so that no write path can forget to; the token service implements it.
 */
export interface TokenRevoker {
  /** Every token issued so far to the user. */
  revokeUser(ctx: RequestContext, userId: string): Promise<void>
  /** Every token issued so far scoped to the project. */
  revokeProject(ctx: RequestContext, projectId: string): Promise<void>
  /** Every token issued so far that carries the role (directly held or implied). */
  revokeRole(ctx: RequestContext, roleId: string): Promise<void>
}

/**
 * A {@link TokenRevoker} for processes without a token service (`cellctl bootstrap`, the start-up
 * bootstrap): it only records the events, which every token service loads on start and refresh.
 * `horizonMs` must be at least the token lifetime (events are kept that long).
 */
export class RevocationRecorder implements TokenRevoker {
  readonly #store: RevocationStore
  readonly #horizonMs: number

  constructor(store: RevocationStore, options: { readonly horizonMs?: number } = {}) {
    this.#store = store
    this.#horizonMs = options.horizonMs ?? 24 * 3600_000
  }

  revokeUser(ctx: RequestContext, userId: string): Promise<void> {
    return this.#record(ctx, 'user', userId)
  }

  revokeProject(ctx: RequestContext, projectId: string): Promise<void> {
    return this.#record(ctx, 'project', projectId)
  }

  revokeRole(ctx: RequestContext, roleId: string): Promise<void> {
    return this.#record(ctx, 'role', roleId)
  }

  #record(ctx: RequestContext, kind: RevocationKind, targetId: string): Promise<void> {
    const now = Date.now()
    return this.#store.save(ctx, { kind, targetId, revokedAt: now, expiresAt: now + this.#horizonMs })
  }
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
