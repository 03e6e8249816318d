import type { Transaction } from 'kysely'
import type { InstanceActionRecord } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import type { Kysely } from 'kysely'
import type { CellSchema } from '../../db/schema.js'

/** Starts an instance action (os-instance-actions) with its first event. */
export async function recordAction(
  tx: Transaction<CellSchema>,
  ctx: RequestContext,
  a: { uuid: string; action: string; projectId: string; userId: string; event: string; host: string | null },
): Promise<void> {
  const now = Date.now()
  const res = await tx
    .insertInto('instance_actions')
    .values({
      request_id: ctx.requestId,
      instance_uuid: a.uuid,
      action: a.action,
      project_id: ctx.projectId ?? a.projectId,
      user_id: ctx.userId ?? a.userId,
      start_time: now,
      finish_time: null,
      message: null,
    })
    .executeTakeFirst()
  const actionId = Number(res.insertId)
  await tx
    .insertInto('instance_action_events')
    .values({ action_id: actionId, event: a.event, host: a.host, start_time: now, finish_time: null, result: null })
    .execute()
}

/** Finishes the newest open event of the newest action of `uuid`. */
export async function finishAction(tx: Transaction<CellSchema>, uuid: string, result: 'Success' | 'Error', message?: string): Promise<void> {
  const action = await tx
    .selectFrom('instance_actions')
    .select('id')
    .where('instance_uuid', '=', uuid)
    .where('finish_time', 'is', null)
    .orderBy('id', 'desc')
    .executeTakeFirst()
  if (action === undefined) return
  const now = Date.now()
  await tx
    .updateTable('instance_action_events')
    .set({ finish_time: now, result })
    .where('action_id', '=', action.id)
    .where('finish_time', 'is', null)
    .execute()
  await tx
    .updateTable('instance_actions')
    .set({ finish_time: now, message: result === 'Error' ? (message ?? 'Error') : null })
    .where('id', '=', action.id)
    .execute()
}

/** Every action of `uuid`, oldest first, with events. */
export async function listActions(db: Kysely<CellSchema>, uuid: string): Promise<InstanceActionRecord[]> {
  const actions = await db.selectFrom('instance_actions').selectAll().where('instance_uuid', '=', uuid).orderBy('id').execute()
  if (actions.length === 0) return []
  const events = await db
    .selectFrom('instance_action_events')
    .selectAll()
    .where(
      'action_id',
      'in',
      actions.map((a) => a.id),
    )
    .orderBy('id')
    .execute()
  return actions.map((a) => ({
    requestId: a.request_id,
    instanceUuid: a.instance_uuid,
    action: a.action,
    projectId: a.project_id,
    userId: a.user_id,
    startTime: a.start_time,
    finishTime: a.finish_time,
    message: a.message,
    events: events
      .filter((e) => e.action_id === a.id)
      .map((e) => ({ event: e.event, host: e.host, startTime: e.start_time, finishTime: e.finish_time, result: e.result })),
  }))
}
