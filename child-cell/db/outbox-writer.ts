import type { Transaction } from 'kysely'
import type { CellSchema } from './schema.js'

/** The `cell_state` row every outbox writer locks (created by migration cell_0003_outbox_writer). */
export const OUTBOX_WRITER_KEY = 'outbox_writer'

/** One upward event as the outbox stores it. */
export interface OutboxRow {
  readonly instanceUuid: string
  readonly version: number
  readonly cellPath: string
  readonly payload: unknown
}

/**
 * Appends an upward event to the outbox in the caller's transaction, so that outbox ids become
 * visible in id order.
 *
 * Why the lock: the parent reads the outbox with a cursor (`id > cursor`) and acknowledges with
 * `id <= cursor`. With concurrent writers (MariaDB, several connections) an auto-increment id is
 * taken at insert time but becomes visible at commit: a transaction holding id 100 may commit after
 * one holding id 101, after the parent already read 101 and moved its cursor past 100. Event 100
 * was then never shipped (and the ack deleted it): that is how a final `deleted` event of one
 * server got lost while the next server's delete committed first. Locking one row before the insert
 * serialises outbox writers from their insert to their commit, so ids commit in order. SQLite
 * serialises writers anyway; the same statement is harmless there.
 */
export async function appendOutbox(tx: Transaction<CellSchema>, ev: OutboxRow): Promise<void> {
  // An UPDATE takes the row's exclusive lock until the transaction ends (re-entrant within it).
  const res = await tx.updateTable('cell_state').set({ value: String(Date.now()) }).where('key', '=', OUTBOX_WRITER_KEY).executeTakeFirst()
  if (Number(res.numUpdatedRows) === 0) throw new Error(`cell_state row ${OUTBOX_WRITER_KEY} is missing: run the cell migrations`)
  await tx
    .insertInto('outbox')
    .values({
      instance_uuid: ev.instanceUuid,
      version: ev.version,
      cell_path: ev.cellPath,
      payload: JSON.stringify(ev.payload),
      created_at: Date.now(),
    })
    .execute()
}
