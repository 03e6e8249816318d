import { createHash } from 'node:crypto'
import type { Request, Response } from 'express'
import { Router } from 'express'
import { InvalidError, NotFoundError, NotImplementedError } from '../../../shared/errors.js'
import { contextOf } from '../../identity/auth.js'
import type { Zone } from '../availability-zones/zones.js'
import { zonesOf } from '../availability-zones/zones.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { novaTime, numberedHosts, serviced } from '../hosts/host-inventory.js'
import type { LegacyId } from '../hosts/legacy-ids.js'
import { LegacyIds } from '../hosts/legacy-ids.js'
import type { Microversion } from '../microversion.js'
import { atLeast, microversionOf } from '../microversion.js'
import { regionOf } from '../request-scope.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

const POLICY = 'os_compute_api:os-aggregates'

/** A stable uuid for a zone's aggregate (2.41 shows aggregate uuids): name-based, SHA-1, version 5 layout. */
export function aggregateUuid(zone: string): string {
  const h = createHash('sha1').update(`availability-zone-aggregate:${zone}`).digest()
  h[6] = (h[6]! & 0x0f) | 0x50
  h[8] = (h[8]! & 0x3f) | 0x80
  const x = h.subarray(0, 16).toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
}

function aggregateView(z: Zone, id: LegacyId, mv: Microversion): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: id.id,
    name: z.name,
    availability_zone: z.name,
    hosts: z.hosts.map((h) => h.host.host),
    metadata: { availability_zone: z.name },
    created_at: novaTime(id.createdAt),
    updated_at: null,
    deleted: false,
    deleted_at: null,
  }
  if (atLeast(mv, '2.41')) out['uuid'] = aggregateUuid(z.name)
  return out
}

/**
 * `/os-aggregates` (admin only), read-only: in this federation host aggregates are the availability
 * zones of the cell tree (each leaf cell's hosts form its zone, from deploy/regions), so each zone
 * is listed as an aggregate with `availability_zone` metadata, as Nova models zones. Changing
 * aggregates through the API answers 501: zones change with the tree's configuration.
 * (`openstack hypervisor show` lists the aggregates to show a host's membership.)
 */
export function aggregatesRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const numbered = async (res: Response): Promise<Array<{ zone: Zone; id: LegacyId }>> => {
    const zones = zonesOf(serviced(await numberedHosts(d, contextOf(res), regionOf(res))))
    const ids = await new LegacyIds(d.db).assign('aggregate', zones.map((z) => ({ ref: z.name, cellPath: null })))
    return zones.flatMap((zone) => {
      const id = ids.get(zone.name)
      return id === undefined ? [] : [{ zone, id }]
    })
  }

  r.get(
    '/os-aggregates',
    wrap(async (_req, res) => {
      requireAdmin(res, `${POLICY}:index`)
      const mv = microversionOf(res)
      const all = (await numbered(res)).sort((a, b) => a.id.id - b.id.id)
      res.json({ aggregates: all.map((a) => aggregateView(a.zone, a.id, mv)) })
    }),
  )
  r.get(
    '/os-aggregates/:id',
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:show`)
      const id = String(req.params['id'])
      if (!/^\d+$/.test(id)) throw new InvalidError(`Invalid input received: id must be an integer`)
      const found = (await numbered(res)).find((a) => a.id.id === Number(id))
      if (found === undefined) throw new NotFoundError(`Aggregate ${id} could not be found.`)
      res.json({ aggregate: aggregateView(found.zone, found.id, microversionOf(res)) })
    }),
  )
  const readOnly = wrap(async (_req, res) => {
    requireAdmin(res, `${POLICY}:update`)
    throw new NotImplementedError('Aggregates are the availability zones of the cell tree and cannot be changed through the API; change deploy/regions instead.')
  })
  r.post('/os-aggregates', readOnly)
  r.all('/os-aggregates/:id', readOnly)
  r.all('/os-aggregates/:id/*rest', readOnly)
  return r
}
