import type { Kysely, Selectable } from 'kysely'
import { ConflictError, InvalidError, NotFoundError, OverQuotaError } from '../../../shared/errors.js'
import type { ComputeTables, KeyPairsTable } from '../../db/compute-schema.js'
import { keyPairCount, limitsOf, userLimit, withQuotaLock } from '../quotas/quota-store.js'

/** The two key pair types (2.2). */
export const KEYPAIR_TYPES = ['ssh', 'x509'] as const
/** One of {@link KEYPAIR_TYPES}. */
export type KeypairType = (typeof KEYPAIR_TYPES)[number]

/** A key pair row. */
export type KeypairRow = Selectable<KeyPairsTable>

/** A user's key pair by name, else Nova's 404. */
export async function getKeypair(db: Kysely<ComputeTables>, userId: string, name: string): Promise<KeypairRow> {
  const k = await db.selectFrom('key_pairs').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst()
  if (k === undefined) throw new NotFoundError(`Keypair ${name} not found for user ${userId}`)
  return k
}

/** A user's key pairs by name, after `marker` (a name; unknown = 400), at most `limit`. */
export async function listKeypairs(db: Kysely<ComputeTables>, userId: string, page: { limit?: number; marker?: string }): Promise<KeypairRow[]> {
  let q = db.selectFrom('key_pairs').selectAll().where('user_id', '=', userId)
  if (page.marker !== undefined) {
    const marker = await db.selectFrom('key_pairs').select('name').where('user_id', '=', userId).where('name', '=', page.marker).executeTakeFirst()
    if (marker === undefined) throw new InvalidError(`Marker ${page.marker} could not be found.`)
    q = q.where('name', '>', marker.name)
  }
  q = q.orderBy('name').orderBy('id')
  if (page.limit !== undefined) q = q.limit(page.limit)
  return q.execute()
}

/** What {@link insertKeypair} stores. */
export interface NewKeypair {
  readonly userId: string
  readonly name: string
  readonly type: KeypairType
  readonly publicKey: string
  readonly fingerprint: string
}

/**
 * Stores a key pair under the `key_pairs` quota (per user; the limit of the caller's project, or the
 * user's override): the count and the insert share one transaction holding the user's quota lock,
 * so parallel creates never exceed it. 403 over quota, 409 for a name the user already has.
 */
export async function insertKeypair(db: Kysely<ComputeTables>, projectId: string, k: NewKeypair): Promise<KeypairRow> {
  const exists = new ConflictError(`Key pair '${k.name}' already exists.`)
  try {
    return await withQuotaLock(db, `user:${k.userId}`, async (tx) => {
      const limit = userLimit(await limitsOf(tx, projectId, k.userId), 'key_pairs')
      if (limit >= 0 && (await keyPairCount(tx, k.userId)) + 1 > limit) throw new OverQuotaError('Quota exceeded, too many key pairs.')
      const dup = await tx.selectFrom('key_pairs').select('id').where('user_id', '=', k.userId).where('name', '=', k.name).executeTakeFirst()
      if (dup !== undefined) throw exists
      await tx
        .insertInto('key_pairs')
        .values({ name: k.name, user_id: k.userId, fingerprint: k.fingerprint, public_key: k.publicKey, type: k.type, created_at: Date.now(), updated_at: null })
        .execute()
      return tx.selectFrom('key_pairs').selectAll().where('user_id', '=', k.userId).where('name', '=', k.name).executeTakeFirstOrThrow()
    })
  } catch (err) {
    // The unique (user, name) constraint is the last word if two creates raced past the check.
    if (!(err instanceof ConflictError || err instanceof OverQuotaError)) {
      const dup = await db.selectFrom('key_pairs').select('id').where('user_id', '=', k.userId).where('name', '=', k.name).executeTakeFirst()
      if (dup !== undefined) throw exists
    }
    throw err
  }
}

/** Deletes a user's key pair; Nova's 404 when it has none of that name. */
export async function deleteKeypair(db: Kysely<ComputeTables>, userId: string, name: string): Promise<void> {
  const del = await db.deleteFrom('key_pairs').where('user_id', '=', userId).where('name', '=', name).executeTakeFirst()
  if (Number(del.numDeletedRows) === 0) throw new NotFoundError(`Keypair ${name} not found for user ${userId}`)
}
