import type { Request, Response } from 'express'
import { Router } from 'express'
import { InvalidError } from '../../../shared/errors.js'
import { requireAdmin, requireAdminOrProject, verifyProjectId } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { queryParam } from '../parameter-types.js'
import type { QuotaResource } from './quota-resources.js'
import { isQuotaResource, quotaValue, visibleResources } from './quota-resources.js'
import { classLimitsOf, deleteLimits, limitsOf, setLimits, usageOf } from './quota-store.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

const POLICY = (action: string): string => `os_compute_api:os-quota-sets:${action}`
const TRUE_WORDS = ['1', 't', 'true', 'on', 'y', 'yes']

/** Nova's `conv_inf` comparison: -1 is infinity. */
const inf = (v: number): number => (v === -1 ? Number.POSITIVE_INFINITY : v)

/**
 * `/os-quota-sets/{project}`: show and `detail` (admin or the project itself), `defaults` (anyone),
 * update (PUT, admin; a limit below current usage is a 400 unless `force`) and delete (202: back to
 * the defaults). `?user_id=` addresses a user's own overrides within the project. The keys shown
 * depend on the microversion (2.36 drops the network quotas, 2.57 the injected files).
 */
export function quotasRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const userOf = (req: Request): string | undefined => queryParam(req.query['user_id'])

  const show = (detail: boolean) =>
    wrap(async (req, res) => {
      const project = String(req.params['project'])
      requireAdminOrProject(res, POLICY(detail ? 'detail' : 'show'), project)
      await verifyProjectId(d.db, project)
      const userId = userOf(req)
      const limits = await limitsOf(d.db, project, userId)
      const usage = detail ? await usageOf(d.db, project, userId) : undefined
      const out: Record<string, unknown> = { id: project }
      for (const key of visibleResources(microversionOf(res))) {
        const limit = limits.user[key] ?? limits.project[key]
        out[key] = usage === undefined ? limit : { in_use: usage[key], limit, reserved: 0 }
      }
      res.json({ quota_set: out })
    })
  r.get('/os-quota-sets/:project/detail', show(true))
  r.get(
    '/os-quota-sets/:project/defaults',
    wrap(async (req, res) => {
      const project = String(req.params['project'])
      await verifyProjectId(d.db, project)
      const defaults = await classLimitsOf(d.db)
      const out: Record<string, unknown> = { id: project }
      for (const key of visibleResources(microversionOf(res))) out[key] = defaults[key]
      res.json({ quota_set: out })
    }),
  )
  r.get('/os-quota-sets/:project', show(false))

  r.put(
    '/os-quota-sets/:project',
    wrap(async (req, res) => {
      const project = String(req.params['project'])
      requireAdmin(res, POLICY('update'))
      const mv = microversionOf(res)
      const body: unknown = req.body
      const qs = (body as { quota_set?: unknown } | null)?.quota_set
      if (body === null || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length !== 1 || qs === null || typeof qs !== 'object' || Array.isArray(qs)) {
        throw new InvalidError("Invalid input for field/attribute quota_set. Value: 'quota_set' is a required property")
      }
      const allowed = new Set<string>(visibleResources(mv))
      const values: Partial<Record<QuotaResource, number>> = {}
      let force = false
      for (const [key, v] of Object.entries(qs as Record<string, unknown>)) {
        if (key === 'force') {
          if (typeof v !== 'boolean' && !(typeof v === 'string' && /^(true|false|t|f|1|0|on|off|y|n|yes|no)$/i.test(v))) {
            throw new InvalidError(`Invalid input for field/attribute force. Value: ${JSON.stringify(v)}. ${JSON.stringify(v)} is not a valid boolean`)
          }
          force = v === true || (typeof v === 'string' && TRUE_WORDS.includes(v.toLowerCase()))
        } else if (key === 'networks' && !atLeast(mv, '2.36')) {
          quotaValue(key, v)
          throw new InvalidError('The networks quota is disabled')
        } else if (!allowed.has(key) || !isQuotaResource(key)) {
          throw new InvalidError(`Invalid input for field/attribute quota_set. Value: ${JSON.stringify(qs)}. Additional properties are not allowed ('${key}' was unexpected)`)
        } else values[key] = quotaValue(key, v)
      }
      await verifyProjectId(d.db, project)
      const userId = userOf(req)
      if (!force) {
        const usage = await usageOf(d.db, project, userId)
        const limits = userId === undefined ? undefined : await limitsOf(d.db, project)
        for (const [key, limit] of Object.entries(values) as Array<[QuotaResource, number]>) {
          if (inf(limit) < inf(usage[key])) {
            throw new InvalidError(`Quota limit ${limit} for ${key} must be greater than or equal to already used and reserved ${usage[key]}.`)
          }
          // A user's limit may not exceed the project's.
          const maximum = limits === undefined ? -1 : limits.project[key]
          if (inf(limit) > inf(maximum)) throw new InvalidError(`Quota limit ${limit} for ${key} must be less than or equal to ${maximum}.`)
        }
      }
      await setLimits(d.db, project, userId ?? '', values)
      const after = await limitsOf(d.db, project, userId)
      const out: Record<string, number> = {}
      for (const key of visibleResources(mv)) out[key] = after.user[key] ?? after.project[key]
      res.status(200).json({ quota_set: out })
    }),
  )

  r.delete(
    '/os-quota-sets/:project',
    wrap(async (req, res) => {
      requireAdmin(res, POLICY('delete'))
      await deleteLimits(d.db, String(req.params['project']), userOf(req))
      res.status(202).end()
    }),
  )
  return r
}
