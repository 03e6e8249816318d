import { randomUUID } from 'node:crypto'
import type { Request, Response } from 'express'
import { Router } from 'express'
import { z } from 'zod'
import { InvalidError, NotFoundError, OverQuotaError } from '../../../shared/errors.js'
import { authOf } from '../../identity/auth.js'
import { requireAdminOrProject } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import type { Microversion } from '../microversion.js'
import { atLeast, microversionOf } from '../microversion.js'
import { intQuery, novaInt, novaName, parseBody } from '../parameter-types.js'
import { limitsOf, serverGroupCount, userLimit, withQuotaLock } from '../quotas/quota-store.js'
import type { GroupRow } from './group-store.js'
import { findGroup, GROUP_POLICIES, liveMembers, rulesOf } from './group-store.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Before 2.15 only the two hard policies exist. */
const HARD = ['affinity', 'anti-affinity'] as const
const policiesSchema = (allowed: readonly [string, ...string[]]) => z.tuple([z.enum(allowed)])
const createLegacy = (allowed: readonly [string, ...string[]]) =>
  z.strictObject({ server_group: z.strictObject({ name: novaName, policies: policiesSchema(allowed) }) })
const create264 = z.strictObject({
  server_group: z.strictObject({
    name: novaName,
    policy: z.enum(GROUP_POLICIES),
    rules: z.strictObject({ max_server_per_host: novaInt(1).optional() }).optional(),
  }),
})

/** Nova's server group representation per microversion (2.13 owner ids; 2.64 policy + rules). */
function groupView(g: GroupRow, members: readonly string[], mv: Microversion): Record<string, unknown> {
  const out: Record<string, unknown> = { id: g.uuid, name: g.name }
  if (atLeast(mv, '2.64')) {
    out['policy'] = g.policy
    out['rules'] = rulesOf(g)
  } else {
    out['policies'] = [g.policy]
    out['metadata'] = {}
  }
  out['members'] = members
  if (atLeast(mv, '2.13')) {
    out['project_id'] = g.project_id
    out['user_id'] = g.user_id
  }
  return out
}

/**
 * `/os-server-groups`: create (200; quota `server_groups`), list (own project; `all_projects` for
 * admins; `limit`/`offset`), show and delete (204). Another project's group is a 404. Servers join
 * a group at boot with the `group` scheduler hint (see servers/create.ts).
 */
export function serverGroupsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const visible = async (res: Response, id: string): Promise<GroupRow> => {
    const g = await findGroup(d.db, id, authOf(res))
    if (g === undefined) throw new NotFoundError(`Instance group ${id} could not be found.`)
    return g
  }

  r.post(
    '/os-server-groups',
    wrap(async (req, res) => {
      const auth = authOf(res)
      const mv = microversionOf(res)
      requireAdminOrProject(res, 'os_compute_api:os-server-groups:create', auth.projectId)
      let policy: string
      let rules: Record<string, number> = {}
      let name: string
      if (atLeast(mv, '2.64')) {
        const sg = parseBody(create264, req.body).server_group
        name = sg.name
        policy = sg.policy
        if (sg.rules?.max_server_per_host !== undefined) {
          if (policy !== 'anti-affinity') throw new InvalidError('Only anti-affinity policy supports rules.')
          rules = { max_server_per_host: sg.rules.max_server_per_host }
        }
      } else {
        const allowed: readonly [string, ...string[]] = atLeast(mv, '2.15') ? GROUP_POLICIES : HARD
        const sg = parseBody(createLegacy(allowed), req.body).server_group
        name = sg.name
        policy = sg.policies[0]
      }
      const now = Date.now()
      const row = await withQuotaLock(d.db, `project:${auth.projectId}`, async (tx) => {
        const limit = userLimit(await limitsOf(tx, auth.projectId, auth.userId), 'server_groups')
        if (limit >= 0 && (await serverGroupCount(tx, auth.projectId)) + 1 > limit) {
          throw new OverQuotaError('Quota exceeded, too many server groups.')
        }
        const uuid = randomUUID()
        await tx
          .insertInto('instance_groups')
          .values({ uuid, name, project_id: auth.projectId, user_id: auth.userId, policy, rules: JSON.stringify(rules), created_at: now, updated_at: now })
          .execute()
        return tx.selectFrom('instance_groups').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()
      })
      res.status(200).json({ server_group: groupView(row, [], mv) })
    }),
  )

  r.get(
    '/os-server-groups',
    wrap(async (req, res) => {
      const auth = authOf(res)
      const mv = microversionOf(res)
      const limit = Math.min(intQuery('limit', req.query['limit']) ?? 1000, 1000)
      const offset = intQuery('offset', req.query['offset']) ?? 0
      // Nova ignores all_projects for non-admins instead of refusing it.
      const all = req.query['all_projects'] !== undefined && auth.isAdmin
      let q = d.db.selectFrom('instance_groups').selectAll()
      if (!all) q = q.where('project_id', '=', auth.projectId)
      const rows = (await q.orderBy('id').execute()).slice(offset, offset + limit)
      const members = await liveMembers(
        d.db,
        rows.map((g) => g.id),
      )
      res.json({ server_groups: rows.map((g) => groupView(g, members.get(g.id) ?? [], mv)) })
    }),
  )

  r.get(
    '/os-server-groups/:id',
    wrap(async (req, res) => {
      const g = await visible(res, String(req.params['id']))
      const members = await liveMembers(d.db, [g.id])
      res.json({ server_group: groupView(g, members.get(g.id) ?? [], microversionOf(res)) })
    }),
  )

  r.delete(
    '/os-server-groups/:id',
    wrap(async (req, res) => {
      const g = await visible(res, String(req.params['id']))
      await d.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('instance_group_members').where('group_id', '=', g.id).execute()
        await tx.deleteFrom('instance_groups').where('id', '=', g.id).execute()
      })
      res.status(204).end()
    }),
  )
  return r
}
