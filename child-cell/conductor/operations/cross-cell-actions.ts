import type { Transaction } from 'kysely'
import type { CellSchema } from '../../db/schema.js'

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const text = (v: unknown, max: number): string | null => (typeof v === 'string' ? v.slice(0, max) : null)

/**
 * Writes the instance actions a source cell answered (`listActions` records, JSON from the tree,
 * checked field by field) for the target's copy of a cross-cell move, and adds `event` to the
 * newest action that is still open (the move's own). Returns whether there was such an action.
 */
export async function copyActions(tx: Transaction<CellSchema>, uuid: string, raw: unknown, event: { event: string; host: string }): Promise<boolean> {
  const list = Array.isArray(raw) ? raw.filter(isObject) : []
  let openId: number | undefined
  for (const a of list) {
    const action = text(a['action'], 255)
    const start = num(a['startTime'])
    if (action === null || start === null) continue
    const res = await tx
      .insertInto('instance_actions')
      .values({
        request_id: text(a['requestId'], 255) ?? '',
        instance_uuid: uuid,
        action,
        project_id: text(a['projectId'], 64) ?? '',
        user_id: text(a['userId'], 64) ?? '',
        start_time: start,
        finish_time: num(a['finishTime']),
        message: text(a['message'], 255),
      })
      .executeTakeFirst()
    const id = Number(res.insertId)
    for (const e of Array.isArray(a['events']) ? a['events'].filter(isObject) : []) {
      const name = text(e['event'], 255)
      const at = num(e['startTime'])
      if (name === null || at === null) continue
      await tx
        .insertInto('instance_action_events')
        .values({ action_id: id, event: name, host: text(e['host'], 255), start_time: at, finish_time: num(e['finishTime']), result: text(e['result'], 255) })
        .execute()
    }
    openId = num(a['finishTime']) === null ? id : openId
  }
  if (openId === undefined) return false
  await tx.insertInto('instance_action_events').values({ action_id: openId, event: event.event, host: event.host, start_time: Date.now(), finish_time: null, result: null }).execute()
  return true
}
