import { createHash } from 'node:crypto'
import type { Request, Response } from 'express'
import { Router } from 'express'
import { z } from 'zod'
import { isUuidLike } from '../../../shared/uuid.js'
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
import { novaFqdn, novaName, parseBody } from '../parameter-types.js'
import { regionOf } from '../request-scope.js'
import type { StoredAggregate } from './aggregate-store.js'
import { AggregateStore } from './aggregate-store.js'

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

const nameSchema = novaName
const zoneSchema = novaName.refine((z) => !z.includes(':'), "must not contain ':'").nullable()
const createBody = z.strictObject({ aggregate: z.strictObject({ name: nameSchema, availability_zone: zoneSchema.optional() }) })
const updateBody = z.strictObject({
  aggregate: z.strictObject({ name: nameSchema.optional(), availability_zone: zoneSchema.optional() }).refine((a) => Object.keys(a).length > 0, 'needs name or availability_zone'),
})
const hostBody = z.strictObject({ host: novaFqdn })
const metadataBody = z.strictObject({
  metadata: z.record(z.string().regex(/^[a-zA-Z0-9-_:. ]{1,255}$/, 'is not a valid metadata key'), z.string().max(255).nullable()),
})

const imagesBody = z.strictObject({ cache: z.array(z.strictObject({ id: z.string().refine((v) => isUuidLike(v), "is not a 'uuid'") })).min(1) })

function storedView(a: StoredAggregate, mv: Microversion, full = true): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: a.id,
    name: a.name,
    availability_zone: a.metadata['availability_zone'] ?? null,
    ...(full ? { hosts: [...a.hosts], metadata: { ...a.metadata } } : {}),
    created_at: novaTime(a.createdAt),
    updated_at: a.updatedAt === null ? null : novaTime(a.updatedAt),
    deleted: false,
    deleted_at: null,
  }
  if (atLeast(mv, '2.41')) out['uuid'] = a.uuid
  return out
}

/**
 * `/os-aggregates` (admin only). Two kinds of aggregates are listed: the availability zones of the
 * cell tree (each leaf cell's hosts form its zone, from deploy/regions; read-only here, 501 on a
 * change, since zones change with the tree's configuration) and the host aggregates created through
 * this API (stored at the API cell: create, rename, delete, add/remove host, set metadata). Their
 * metadata reaches the leaf schedulers with each build (`BuildSpec.aggregates`), where the
 * AggregateInstanceExtraSpecsFilter and AggregateMultiTenancyIsolation use it.
 */
export function aggregatesRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const store = new AggregateStore(d.db)
  const numbered = async (res: Response): Promise<Array<{ zone: Zone; id: LegacyId }>> => {
    const zones = zonesOf(serviced(await numberedHosts(d, contextOf(res), regionOf(res))))
    const ids = await new LegacyIds(d.db).assign('aggregate', zones.map((z) => ({ ref: z.name, cellPath: null })))
    return zones.flatMap((zone) => {
      const id = ids.get(zone.name)
      return id === undefined ? [] : [{ zone, id }]
    })
  }
  const idOf = (req: Request): number => {
    const id = String(req.params['id'])
    // Nova's validate_integer: any integer (a negative one is then simply not found).
    if (!/^-?\d{1,15}$/.test(id)) throw new InvalidError(`Invalid input received: id must be an integer`)
    return Number(id)
  }
  /** A stored aggregate by id; a zone's id is a 501 (read-only), another a 404. */
  const stored = async (res: Response, id: number): Promise<StoredAggregate> => {
    const a = await store.get(id)
    if (a !== undefined) return a
    if ((await numbered(res)).some((z) => z.id.id === id)) {
      throw new NotImplementedError('Aggregates are the availability zones of the cell tree and cannot be changed through the API; change deploy/regions instead.')
    }
    throw new NotFoundError(`Aggregate ${id} could not be found.`)
  }
  /** The zone each host of the tree is in (from the cell tree's configuration). */
  const zoneOfHosts = async (res: Response): Promise<Map<string, string>> =>
    new Map((await numbered(res)).flatMap((z) => z.zone.hosts.map((h) => [h.host.host, z.zone.name] as const)))
  /** Nova refuses an aggregate zone that differs from the zone its hosts already are in. */
  const checkZone = async (res: Response, id: number, hosts: readonly string[], zone: string | null | undefined): Promise<void> => {
    if (zone === null || zone === undefined || hosts.length === 0) return
    const zones = await zoneOfHosts(res)
    const other = [...new Set(hosts.map((h) => zones.get(h)).filter((z): z is string => z !== undefined && z !== zone))]
    if (other.length > 0) throw new InvalidError(`Cannot add host to aggregate ${id}. Reason: One or more hosts already in availability zone(s) ${JSON.stringify(other)}.`)
  }

  r.get(
    '/os-aggregates',
    wrap(async (_req, res) => {
      requireAdmin(res, `${POLICY}:index`)
      const mv = microversionOf(res)
      const zones = (await numbered(res)).map((a) => ({ id: a.id.id, view: aggregateView(a.zone, a.id, mv) }))
      const own = (await store.list()).map((a) => ({ id: a.id, view: storedView(a, mv) }))
      res.json({ aggregates: [...zones, ...own].sort((a, b) => a.id - b.id).map((a) => a.view) })
    }),
  )
  r.post(
    '/os-aggregates',
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:create`)
      const body = parseBody(createBody, req.body).aggregate
      const a = await store.create(body.name, body.availability_zone ?? null)
      res.json({ aggregate: storedView(a, microversionOf(res), false) })
    }),
  )
  r.get(
    '/os-aggregates/:id',
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:show`)
      const id = idOf(req)
      const own = await store.get(id)
      if (own !== undefined) {
        res.json({ aggregate: storedView(own, microversionOf(res)) })
        return
      }
      const found = (await numbered(res)).find((a) => a.id.id === id)
      if (found === undefined) throw new NotFoundError(`Aggregate ${id} could not be found.`)
      res.json({ aggregate: aggregateView(found.zone, found.id, microversionOf(res)) })
    }),
  )
  r.put(
    '/os-aggregates/:id',
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:update`)
      const id = idOf(req)
      const body = parseBody(updateBody, req.body).aggregate
      const a = await stored(res, id)
      await checkZone(res, id, a.hosts, body.availability_zone)
      const next = await store.update(id, {
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.availability_zone === undefined ? {} : { availabilityZone: body.availability_zone }),
      })
      res.json({ aggregate: storedView(next, microversionOf(res)) })
    }),
  )
  r.delete(
    '/os-aggregates/:id',
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:delete`)
      const id = idOf(req)
      await stored(res, id)
      await store.delete(id)
      res.status(200).end()
    }),
  )
  r.post(
    '/os-aggregates/:id/images',
    wrap(async (req, res) => {
      // 2.81 image pre-caching: accepted as Nova accepts it for a virt driver without image
      // caching (202, nothing cached ahead: hosts fetch an image into their cache at first boot).
      if (!atLeast(microversionOf(res), '2.81')) throw new NotFoundError('The resource could not be found.')
      requireAdmin(res, 'compute:aggregates:images')
      const id = idOf(req)
      const ids = parseBody(imagesBody, req.body).cache.map((c) => c.id)
      if (new Set(ids).size !== ids.length) throw new InvalidError('Duplicate images in request')
      await stored(res, id)
      res.status(202).end()
    }),
  )
  r.post(
    '/os-aggregates/:id/action',
    wrap(async (req, res) => {
      const id = idOf(req)
      const body: unknown = req.body
      const keys = body !== null && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : []
      const action = keys.length === 1 ? keys[0] : undefined
      if (action !== 'add_host' && action !== 'remove_host' && action !== 'set_metadata') {
        requireAdmin(res, `${POLICY}:update`)
        throw new InvalidError(`Invalid request body: expected one of add_host, remove_host, set_metadata`)
      }
      requireAdmin(res, `${POLICY}:${action}`)
      const value = (body as Record<string, unknown>)[action]
      const mv = microversionOf(res)
      if (action === 'set_metadata') {
        const md = parseBody(metadataBody, value).metadata
        const a = await stored(res, id)
        await checkZone(res, id, a.hosts, md['availability_zone'])
        res.json({ aggregate: storedView(await store.setMetadata(id, md), mv) })
        return
      }
      const host = parseBody(hostBody, value).host
      const a = await stored(res, id)
      if (action === 'remove_host') {
        res.json({ aggregate: storedView(await store.removeHost(id, host), mv) })
        return
      }
      const mapped = await d.db.selectFrom('host_mappings').select('host').where('host', '=', host).executeTakeFirst()
      if (mapped === undefined) throw new NotFoundError(`Compute host ${host} could not be found.`)
      await checkZone(res, id, [host], a.metadata['availability_zone'])
      res.json({ aggregate: storedView(await store.addHost(id, host), mv) })
    }),
  )
  return r
}
