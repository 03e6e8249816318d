import type { Request, Response } from 'express'
import { Router } from 'express'
import { authOf } from '../../identity/auth.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { queryParam } from '../parameter-types.js'
import { instanceUsage, limitsOf, serverGroupCount, userLimit } from './quota-store.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/**
 * `GET /limits`: the caller's absolute limits and usage (`rate` is always empty: Nova dropped rate
 * limiting). Usage is counted from the instance index (instances not deleted, cores and RAM as
 * charged at boot). An admin may ask for another project with `tenant_id`. Keys per microversion:
 * 2.36 drops the network ones, 2.39 `maxImageMeta`, 2.57 the personality ones.
 */
export function limitsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  r.get(
    '/limits',
    wrap(async (req, res) => {
      const auth = authOf(res)
      const mv = microversionOf(res)
      const asked = queryParam(req.query['tenant_id'])
      const project = asked ?? auth.projectId
      if (asked !== undefined) requireAdmin(res, 'os_compute_api:limits:other_project')
      // Another project's limits are the project's; the caller's own include its user overrides.
      const limits = await limitsOf(d.db, project, asked === undefined ? auth.userId : undefined)
      const q = (k: Parameters<typeof userLimit>[1]): number => userLimit(limits, k)
      const used = await instanceUsage(d.db, project)
      const absolute: Record<string, number> = {
        maxImageMeta: q('metadata_items'),
        maxPersonality: q('injected_files'),
        maxPersonalitySize: q('injected_file_content_bytes'),
        maxSecurityGroupRules: q('security_group_rules'),
        maxSecurityGroups: q('security_groups'),
        maxServerGroupMembers: q('server_group_members'),
        maxServerGroups: q('server_groups'),
        maxServerMeta: q('metadata_items'),
        maxTotalCores: q('cores'),
        maxTotalFloatingIps: q('floating_ips'),
        maxTotalInstances: q('instances'),
        maxTotalKeypairs: q('key_pairs'),
        maxTotalRAMSize: q('ram'),
        totalCoresUsed: used.cores,
        totalFloatingIpsUsed: 0,
        totalInstancesUsed: used.instances,
        totalRAMUsed: used.ram,
        totalSecurityGroupsUsed: 0,
        totalServerGroupsUsed: await serverGroupCount(d.db, project),
      }
      const drop = (keys: readonly string[]): void => {
        for (const k of keys) delete absolute[k]
      }
      if (atLeast(mv, '2.36')) drop(['maxSecurityGroupRules', 'maxSecurityGroups', 'maxTotalFloatingIps', 'totalFloatingIpsUsed', 'totalSecurityGroupsUsed'])
      if (atLeast(mv, '2.39')) drop(['maxImageMeta'])
      if (atLeast(mv, '2.57')) drop(['maxPersonality', 'maxPersonalitySize'])
      res.json({ limits: { rate: [], absolute } })
    }),
  )
  return r
}
