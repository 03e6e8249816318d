import type { Kysely } from 'kysely'
import { isDuplicateKey } from '../../../shared/db/database.js'
import type { ComputeTables } from '../../db/compute-schema.js'

/** What gets an integer id. */
export const LEGACY_ID_KINDS = ['hypervisor', 'service', 'aggregate', 'migration'] as const
/** One of {@link LEGACY_ID_KINDS}. */
export type LegacyIdKind = (typeof LEGACY_ID_KINDS)[number]

/** A thing to number: its uuid (or zone name) and the cell that owns it. */
export interface LegacyRef {
  readonly ref: string
  readonly cellPath: string | null
}

/** A numbered thing. */
export interface LegacyId {
  readonly id: number
  readonly ref: string
  readonly cellPath: string | null
  readonly createdAt: number
}

/**
 * Integer ids for the compute API before microversion 2.53, which numbers hypervisors and services
 * (and aggregates always). Every cell numbers its own rows from 1, so cell ids collide; instead the
 * API database assigns an id the first time the API sees a uuid (`legacy_ids`, autoincrement,
 * unique per kind and ref). An id never changes and is never reused; a deleted service that comes
 * back registers with a new uuid, hence a new id, as in Nova.
 */
export class LegacyIds {
  readonly #db: Kysely<ComputeTables>

  constructor(db: Kysely<ComputeTables>) {
    this.#db = db
  }

  /**
   * The ids of `refs`, assigning the missing ones in the order given (so that a first listing
   * numbers hosts in tree order). Safe under concurrent callers: a lost insert race re-reads.
   */
  async assign(kind: LegacyIdKind, refs: readonly LegacyRef[]): Promise<Map<string, LegacyId>> {
    const out = await this.#read(kind, refs.map((r) => r.ref))
    const missing = refs.filter((r) => !out.has(r.ref))
    if (missing.length === 0) return out
    const now = Date.now()
    for (const r of missing) {
      try {
        await this.#db.insertInto('legacy_ids').values({ kind, ref: r.ref, cell_path: r.cellPath, created_at: now }).execute()
      } catch (err) {
        if (!isDuplicateKey(err)) throw err
      }
    }
    for (const [ref, v] of await this.#read(kind, missing.map((r) => r.ref))) out.set(ref, v)
    return out
  }

  /** The thing numbered `id`, if any. */
  async byId(kind: LegacyIdKind, id: number): Promise<LegacyId | undefined> {
    const row = await this.#db.selectFrom('legacy_ids').selectAll().where('kind', '=', kind).where('id', '=', id).executeTakeFirst()
    return row === undefined ? undefined : { id: row.id, ref: row.ref, cellPath: row.cell_path, createdAt: Number(row.created_at) }
  }

  async #read(kind: LegacyIdKind, refs: readonly string[]): Promise<Map<string, LegacyId>> {
    const out = new Map<string, LegacyId>()
    // Chunked: SQLite caps the number of bound parameters.
    for (let i = 0; i < refs.length; i += 500) {
      const chunk = refs.slice(i, i + 500)
      const rows = await this.#db.selectFrom('legacy_ids').selectAll().where('kind', '=', kind).where('ref', 'in', chunk).execute()
      for (const r of rows) out.set(r.ref, { id: r.id, ref: r.ref, cellPath: r.cell_path, createdAt: Number(r.created_at) })
    }
    return out
  }
}
