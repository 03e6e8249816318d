import type { InstanceEvent } from '../../../shared/cell-link/types.js'
import { isDuplicateKey } from '../../../shared/db/database.js'
import { appendOutbox } from '../../db/outbox-writer.js'
import type { ConductorDeps } from '../deps.js'

/** Outbox events after `after`, oldest first, at most `limit`. */
export async function outboxFetch(d: ConductorDeps, args: { after: number; limit: number }): Promise<{ events: InstanceEvent[]; cursor: number }> {
  const rows = await d.db
    .selectFrom('outbox')
    .selectAll()
    .where('id', '>', args.after)
    .orderBy('id')
    .limit(Math.min(Math.max(1, args.limit), 1000))
    .execute()
  return {
    events: rows.map((r) => ({
      instanceUuid: r.instance_uuid,
      version: r.version,
      cellPath: r.cell_path,
      payload: JSON.parse(r.payload),
    })),
    cursor: rows.length === 0 ? args.after : (rows[rows.length - 1]?.id ?? args.after),
  }
}

/** The parent applied everything up to `cursor`. */
export async function outboxAck(d: ConductorDeps, cursor: number): Promise<void> {
  await d.db.deleteFrom('outbox').where('id', '<=', cursor).execute()
}

/**
 * An intermediate cell relays its children's events: each is recorded in this cell's outbox only
 * if it is newer than what this cell saw of the instance, in one transaction with the index update.
 * Replays (after a reconnect) and reorderings are therefore harmless.
 */
export async function relayEvents(d: ConductorDeps, events: readonly InstanceEvent[]): Promise<{ applied: number }> {
  let applied = 0
  for (const ev of events) {
    const ok = await d.db.transaction().execute(async (tx) => {
      const seen = await tx.selectFrom('instance_index').select('version').where('uuid', '=', ev.instanceUuid).executeTakeFirst()
      if (seen !== undefined && seen.version >= ev.version) return false
      if (seen === undefined) {
        try {
          await tx.insertInto('instance_index').values({ uuid: ev.instanceUuid, cell_path: ev.cellPath, version: ev.version }).execute()
        } catch (err) {
          if (isDuplicateKey(err)) return false
          throw err
        }
      } else {
        const res = await tx
          .updateTable('instance_index')
          .set({ version: ev.version, cell_path: ev.cellPath })
          .where('uuid', '=', ev.instanceUuid)
          .where('version', '<', ev.version)
          .executeTakeFirst()
        if (Number(res.numUpdatedRows) !== 1) return false
      }
      await appendOutbox(tx, ev)
      return true
    })
    if (ok) applied += 1
  }
  return { applied }
}
