import type { Request, Response } from 'express'
import { Router } from 'express'
import { InvalidError } from '../../../shared/errors.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import type { Microversion } from '../microversion.js'
import { atLeast, microversionOf } from '../microversion.js'
import type { QuotaResource } from './quota-resources.js'
import { isQuotaResource, QUOTA_RESOURCES, quotaValue } from './quota-resources.js'
import { classLimitsOf, setClassLimits } from './quota-store.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

const NETWORK: readonly QuotaResource[] = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups']
const INJECTED: readonly QuotaResource[] = ['injected_file_content_bytes', 'injected_file_path_bytes', 'injected_files']
const SERVER_GROUPS: readonly QuotaResource[] = ['server_group_members', 'server_groups']

/**
 * What a class set shows per microversion, as Nova: before 2.50 no server group quotas; from 2.50
 * no network quotas (but the server group ones); from 2.57 no injected files either.
 */
function classResources(mv: Microversion): QuotaResource[] {
  return QUOTA_RESOURCES.filter((r) => {
    if (!atLeast(mv, '2.50')) return !SERVER_GROUPS.includes(r)
    if (NETWORK.includes(r)) return false
    return !(atLeast(mv, '2.57') && INJECTED.includes(r))
  })
}

/**
 * `/os-quota-class-sets/{class}`, admin only: show and update a quota class. The `default` class
 * is what every project gets where it has no override of its own (`/os-quota-sets/{p}/defaults`
 * shows it, and quota enforcement uses it).
 */
export function quotaClassRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  r.get(
    '/os-quota-class-sets/:class',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-quota-class-sets:show')
      const name = String(req.params['class'])
      const limits = await classLimitsOf(d.db, name)
      const out: Record<string, unknown> = { id: name }
      for (const key of classResources(microversionOf(res))) out[key] = limits[key]
      res.json({ quota_class_set: out })
    }),
  )
  r.put(
    '/os-quota-class-sets/:class',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-quota-class-sets:update')
      const mv = microversionOf(res)
      const name = String(req.params['class'])
      if (name.length > 255) throw new InvalidError('Quota class name is too long.')
      const body: unknown = req.body
      const qs = (body as { quota_class_set?: unknown } | null)?.quota_class_set
      if (body === null || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length !== 1 || qs === null || typeof qs !== 'object' || Array.isArray(qs)) {
        throw new InvalidError("Invalid input for field/attribute quota_class_set. Value: 'quota_class_set' is a required property")
      }
      // Nova's update schemas accept the server group quotas at every version, the network ones before 2.50.
      const accepted = new Set<string>([...classResources(mv), ...SERVER_GROUPS])
      const values: Partial<Record<QuotaResource, number>> = {}
      for (const [key, v] of Object.entries(qs as Record<string, unknown>)) {
        if (!accepted.has(key) || !isQuotaResource(key)) {
          throw new InvalidError(`Invalid input for field/attribute quota_class_set. Value: ${JSON.stringify(qs)}. Additional properties are not allowed ('${key}' was unexpected)`)
        }
        values[key] = quotaValue(key, v)
      }
      await setClassLimits(d.db, name, values)
      const limits = await classLimitsOf(d.db, name)
      const out: Record<string, number> = {}
      for (const key of classResources(mv)) out[key] = limits[key]
      res.status(200).json({ quota_class_set: out })
    }),
  )
  return r
}
