import { Router } from 'express'
import { z } from 'zod'
import { policyRefused } from './caller.js'
import { badRequest } from './faults.js'
import type { Wrap } from './network-routes.js'
import { callerOf } from './network-routes.js'
import type { NetworkQuotaResource } from './quota-store.js'
import { DEFAULT_NETWORK_QUOTAS, NETWORK_QUOTA_RESOURCES } from './quota-store.js'
import type { NetworkService } from './service.js'

const limit = z.union([z.number().int().min(-1), z.string().regex(/^-?\d+$/).transform(Number)])
const quotaBody = z.object({ quota: z.record(z.string(), limit) }).strict()

/**
 * `/v2.0/quotas`: admin lists and sets any project's limits; a project reads its own. `details.json`
 * adds usage (`used`, `reserved` 0, `limit`), counted here for networks, subnets and ports.
 */
export function quotaRoutes(service: NetworkService, wrap: Wrap): Router {
  const r = Router()
  const { quotas } = service
  const readable = (projectId: string, res: Parameters<typeof callerOf>[0]): void => {
    const c = callerOf(res)
    if (!c.isAdmin && c.projectId !== projectId) throw policyRefused('get_quota')
  }
  r.get(
    '/quotas',
    wrap(async (_req, res) => {
      if (!callerOf(res).isAdmin) throw policyRefused('get_quota')
      const projects = await quotas.projects()
      res.json({ quotas: await Promise.all(projects.map(async (p) => ({ ...(await quotas.limitsOf(p)), project_id: p, tenant_id: p }))) })
    }),
  )
  r.get(
    '/quotas/:project/default',
    wrap(async (req, res) => {
      readable(String(req.params['project']), res)
      res.json({ quota: { ...DEFAULT_NETWORK_QUOTAS } })
    }),
  )
  const details = wrap(async (req, res) => {
    const project = String(req.params['project'])
    readable(project, res)
    const limits = await quotas.limitsOf(project)
    const used = await quotas.usageOf(project)
    res.json({ quota: Object.fromEntries(NETWORK_QUOTA_RESOURCES.map((k) => [k, { limit: limits[k], used: used[k] ?? 0, reserved: 0 }])) })
  })
  r.get('/quotas/:project/details.json', details)
  r.get('/quotas/:project/details', details)
  r.get(
    '/quotas/:project',
    wrap(async (req, res) => {
      const project = String(req.params['project']).replace(/\.json$/, '')
      readable(project, res)
      res.json({ quota: await quotas.limitsOf(project) })
    }),
  )
  r.put(
    '/quotas/:project',
    wrap(async (req, res) => {
      if (!callerOf(res).isAdmin) throw policyRefused('update_quota')
      const project = String(req.params['project']).replace(/\.json$/, '')
      const parsed = quotaBody.safeParse(req.body)
      if (!parsed.success) throw badRequest('Invalid input for quota. Reason: limits must be integers >= -1.', 'HTTPBadRequest')
      const unknown = Object.keys(parsed.data.quota).filter((k) => !(NETWORK_QUOTA_RESOURCES as readonly string[]).includes(k))
      if (unknown.length > 0) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`, 'HTTPBadRequest')
      await quotas.set(project, parsed.data.quota as Partial<Record<NetworkQuotaResource, number>>)
      res.json({ quota: await quotas.limitsOf(project) })
    }),
  )
  r.delete(
    '/quotas/:project',
    wrap(async (req, res) => {
      if (!callerOf(res).isAdmin) throw policyRefused('delete_quota')
      await quotas.reset(String(req.params['project']).replace(/\.json$/, ''))
      res.status(204).end()
    }),
  )
  return r
}
