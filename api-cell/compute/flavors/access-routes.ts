import type { Request, Response, Router } from 'express'
import { z } from 'zod'
import { ConflictError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import { requireAdmin, verifyProjectId } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { parseBody } from '../parameter-types.js'
import { accessListOf, findFlavor, hasAccess } from './flavor-store.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

const tenantSchema = z.strictObject({ tenant: z.string().min(1).max(255) })
const ACTION_SCHEMAS = {
  addTenantAccess: z.strictObject({ addTenantAccess: tenantSchema }),
  removeTenantAccess: z.strictObject({ removeTenantAccess: tenantSchema }),
} as const
type FlavorAction = keyof typeof ACTION_SCHEMAS
const isAction = (k: string | undefined): k is FlavorAction => k !== undefined && Object.hasOwn(ACTION_SCHEMAS, k)

/**
 * Flavor access (`os-flavor-access`), admin only: list the projects of a private flavor (public
 * ones have no list: 404), and `POST /flavors/{id}/action` with `addTenantAccess` /
 * `removeTenantAccess`, both answering the new list. From 2.7 a public flavor refuses grants (409).
 */
export function mountFlavorAccess(r: Router, d: ComputeDeps, wrap: Wrap): void {
  const adminFlavor = async (id: string) => {
    const f = await findFlavor(d.db, id, { projectId: '', isAdmin: true })
    if (f === undefined) throw new NotFoundError(`Flavor ${id} could not be found.`)
    return f
  }
  const marshal = async (flavorDbId: number, flavorid: string) => ({
    flavor_access: (await accessListOf(d.db, flavorDbId)).map((p) => ({ flavor_id: flavorid, tenant_id: p })),
  })

  r.get(
    '/flavors/:id/os-flavor-access',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-flavor-access')
      const f = await adminFlavor(String(req.params['id']))
      if (f.is_public === 1) throw new NotFoundError('Access list not available for public flavors.')
      res.json(await marshal(f.id, f.flavorid))
    }),
  )

  r.post(
    '/flavors/:id/action',
    wrap(async (req, res) => {
      const body: unknown = req.body
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidError('Malformed request body')
      const key = Object.keys(body)[0]
      if (!isAction(key)) throw new InvalidError(`There is no such action: ${Object.keys(body).join(',')}`)
      requireAdmin(res, key === 'addTenantAccess' ? 'os_compute_api:os-flavor-access:add_tenant_access' : 'os_compute_api:os-flavor-access:remove_tenant_access')
      const parsed = parseBody(ACTION_SCHEMAS[key], body) as Record<FlavorAction, { tenant: string }>
      const tenant = parsed[key].tenant
      await verifyProjectId(d.db, tenant)
      const f = await adminFlavor(String(req.params['id']))
      if (key === 'addTenantAccess') {
        if (atLeast(microversionOf(res), '2.7') && f.is_public === 1) throw new ConflictError('Can not add access to a public flavor.')
        const exists = new ConflictError(`Flavor access already exists for flavor ${f.flavorid} and project ${tenant} combination.`)
        if (await hasAccess(d.db, f.id, tenant)) throw exists
        try {
          await d.db.insertInto('flavor_projects').values({ flavor_id: f.id, project_id: tenant, created_at: Date.now() }).execute()
        } catch (err) {
          throw (await hasAccess(d.db, f.id, tenant)) ? exists : err
        }
      } else {
        const del = await d.db.deleteFrom('flavor_projects').where('flavor_id', '=', f.id).where('project_id', '=', tenant).executeTakeFirst()
        if (Number(del.numDeletedRows) === 0) throw new NotFoundError(`Flavor access not found for ${f.flavorid} / ${tenant} combination.`)
      }
      await d.tree.refreshFlavors()
      res.status(200).json(await marshal(f.id, f.flavorid))
    }),
  )
}
