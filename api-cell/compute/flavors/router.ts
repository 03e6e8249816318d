import type { Request, Response } from 'express'
import { Router } from 'express'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { authOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { queryParam } from '../parameter-types.js'
import { linkBase } from '../request-scope.js'
import { mountFlavorAccess } from './access-routes.js'
import { mountExtraSpecs } from './extra-specs-routes.js'
import { extraSpecsOf, findFlavor } from './flavor-store.js'
import { flavorSummary, flavorView } from './flavor-view.js'
import { mountFlavorManage } from './manage-routes.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

const SORT_KEYS = ['flavorid', 'name', 'memory_mb', 'vcpus', 'root_gb', 'swap', 'ephemeral_gb', 'rxtx_factor', 'id', 'created_at'] as const
type SortKey = (typeof SORT_KEYS)[number]

/**
 * Nova's `is_public` list filter, admins only: absent or true = public plus the private flavors of
 * the caller's project, false = private only, `none` = every flavor.
 */
function parseIsPublic(v: string | undefined): boolean | null {
  if (v === undefined) return true
  if (v.toLowerCase() === 'none') return null
  if (['true', 't', '1', 'on', 'y', 'yes'].includes(v.toLowerCase())) return true
  if (['false', 'f', '0', 'off', 'n', 'no'].includes(v.toLowerCase())) return false
  throw new InvalidError(`Invalid is_public filter [${v}]`)
}

/**
 * `/flavors`: list, detail and show as the caller may see them (private flavors only for admins
 * and the projects given access), plus the admin API: manage, extra specs and access.
 */
export function flavorsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const list = (detail: boolean) =>
    wrap(async (req, res) => {
      const mv = microversionOf(res)
      const auth = authOf(res)
      const q = req.query
      let query = d.db.selectFrom('flavors').selectAll()
      // Non-admins never see disabled flavors and never choose the is_public filter.
      const isPublic = auth.isAdmin ? parseIsPublic(queryParam(q['is_public'])) : true
      if (!auth.isAdmin) query = query.where('disabled', '=', 0)
      if (isPublic === true) {
        query = query.where((eb) =>
          eb.or([
            eb('is_public', '=', 1),
            eb('id', 'in', eb.selectFrom('flavor_projects').select('flavor_id').where('project_id', '=', auth.projectId)),
          ]),
        )
      } else if (isPublic === false) query = query.where('is_public', '=', 0)
      const minRam = queryParam(q['minRam'])
      if (minRam !== undefined) query = query.where('memory_mb', '>=', intParam('minRam', minRam))
      const minDisk = queryParam(q['minDisk'])
      if (minDisk !== undefined) query = query.where('root_gb', '>=', intParam('minDisk', minDisk))
      const sortKey = queryParam(q['sort_key']) ?? 'flavorid'
      if (!(SORT_KEYS as readonly string[]).includes(sortKey)) throw new InvalidError(`Invalid sort_key ${sortKey}`)
      const dir = queryParam(q['sort_dir']) === 'desc' ? 'desc' : 'asc'
      let rows = await query
        .orderBy(sortKey as SortKey, dir)
        .orderBy('id', dir)
        .execute()
      const marker = queryParam(q['marker'])
      if (marker !== undefined) {
        const i = rows.findIndex((f) => f.flavorid === marker)
        if (i < 0) throw new InvalidError(`marker [${marker}] not found`)
        rows = rows.slice(i + 1)
      }
      const limitRaw = queryParam(q['limit'])
      const limit = limitRaw === undefined ? undefined : intParam('limit', limitRaw)
      const page = limit === undefined ? rows : rows.slice(0, limit)
      const withSpecs = detail && atLeast(mv, '2.61')
      const flavors = await Promise.all(
        page.map(async (f) => (detail ? flavorView(f, mv, req, res, withSpecs ? await extraSpecsOf(d.db, f.id) : undefined) : flavorSummary(f, mv, req, res))),
      )
      const body: Record<string, unknown> = { flavors }
      if (limit !== undefined && page.length === limit && page.length > 0) {
        const last = page[page.length - 1]!
        body['flavors_links'] = [{ rel: 'next', href: `${linkBase(req, res).versioned}/flavors${detail ? '/detail' : ''}?limit=${limit}&marker=${last.flavorid}` }]
      }
      res.json(body)
    })
  r.get('/flavors', list(false))
  r.get('/flavors/detail', list(true))
  r.get(
    '/flavors/:id',
    wrap(async (req, res) => {
      const id = String(req.params['id'])
      const f = await findFlavor(d.db, id, authOf(res))
      if (f === undefined) throw new NotFoundError(`Flavor ${id} could not be found.`)
      const mv = microversionOf(res)
      res.json({ flavor: flavorView(f, mv, req, res, atLeast(mv, '2.61') ? await extraSpecsOf(d.db, f.id) : undefined) })
    }),
  )
  mountFlavorManage(r, d, wrap)
  mountExtraSpecs(r, d, wrap)
  mountFlavorAccess(r, d, wrap)
  return r
}

function intParam(name: string, v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidError(`Invalid input for query parameter ${name}: ${v}`)
  return Number(v)
}
