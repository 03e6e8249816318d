import type { Request, Response } from 'express'
import { Router } from 'express'
import type { Selectable } from 'kysely'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import type { FlavorsTable } from '../../db/compute-schema.js'
import type { ComputeDeps } from '../deps.js'
import type { Microversion } from '../microversion.js'
import { atLeast, microversionOf } from '../microversion.js'
import { linkBase } from '../request-scope.js'
import { links } from '../servers/views.js'
import { extraSpecsOf } from './flavor-store.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

function view(f: Selectable<FlavorsTable>, mv: Microversion, req: Request, res: Response, extra?: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: f.flavorid,
    name: f.name,
    ram: f.memory_mb,
    disk: f.root_gb,
    vcpus: f.vcpus,
    swap: f.swap === 0 && !atLeast(mv, '2.75') ? '' : f.swap,
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral_gb,
    'OS-FLV-DISABLED:disabled': f.disabled === 1,
    'os-flavor-access:is_public': f.is_public === 1,
    rxtx_factor: f.rxtx_factor,
    links: links(linkBase(req, res), 'flavors', f.flavorid),
  }
  if (atLeast(mv, '2.55')) out['description'] = f.description
  if (atLeast(mv, '2.61') && extra !== undefined) out['extra_specs'] = extra
  return out
}

/** `/flavors`: list, detail, show (create, access and extra specs come with the admin API issue). */
export function flavorsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const list = (detail: boolean) =>
    wrap(async (req, res) => {
      const mv = microversionOf(res)
      const q = req.query
      let query = d.db.selectFrom('flavors').selectAll().where('disabled', '=', 0)
      if (typeof q['minRam'] === 'string') query = query.where('memory_mb', '>=', intParam('minRam', q['minRam']))
      if (typeof q['minDisk'] === 'string') query = query.where('root_gb', '>=', intParam('minDisk', q['minDisk']))
      const sortKey = typeof q['sort_key'] === 'string' ? q['sort_key'] : 'flavorid'
      const allowed = ['flavorid', 'name', 'memory_mb', 'vcpus', 'root_gb', 'swap', 'ephemeral_gb', 'rxtx_factor', 'id', 'created_at']
      if (!allowed.includes(sortKey)) throw new InvalidError(`Invalid sort_key ${sortKey}`)
      const dir = q['sort_dir'] === 'desc' ? 'desc' : 'asc'
      let rows = await query.orderBy(sortKey as 'flavorid', dir).orderBy('id', dir).execute()
      if (typeof q['marker'] === 'string') {
        const i = rows.findIndex((f) => f.flavorid === q['marker'])
        if (i < 0) throw new InvalidError(`marker [${q['marker']}] not found`)
        rows = rows.slice(i + 1)
      }
      const limit = typeof q['limit'] === 'string' ? intParam('limit', q['limit']) : undefined
      const page = limit === undefined ? rows : rows.slice(0, limit)
      const flavors = await Promise.all(
        page.map(async (f) =>
          detail
            ? view(f, mv, req, res, atLeast(mv, '2.61') ? await extraSpecsOf(d.db, f.id) : undefined)
            : { id: f.flavorid, name: f.name, links: links(linkBase(req, res), 'flavors', f.flavorid), ...(atLeast(mv, '2.55') ? { description: f.description } : {}) },
        ),
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
      const f = await d.db.selectFrom('flavors').selectAll().where('flavorid', '=', String(req.params['id'])).executeTakeFirst()
      if (f === undefined) throw new NotFoundError(`Flavor ${String(req.params['id'])} could not be found.`)
      const mv = microversionOf(res)
      res.json({ flavor: view(f, mv, req, res, atLeast(mv, '2.61') ? await extraSpecsOf(d.db, f.id) : undefined) })
    }),
  )
  r.get(
    '/flavors/:id/os-extra_specs',
    wrap(async (req, res) => {
      const f = await d.db.selectFrom('flavors').selectAll().where('flavorid', '=', String(req.params['id'])).executeTakeFirst()
      if (f === undefined) throw new NotFoundError(`Flavor ${String(req.params['id'])} could not be found.`)
      res.json({ extra_specs: await extraSpecsOf(d.db, f.id) })
    }),
  )
  return r
}

function intParam(name: string, v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidError(`Invalid input for query parameter ${name}: ${v}`)
  return Number(v)
}
