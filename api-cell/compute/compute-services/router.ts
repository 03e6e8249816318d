import type { Request, Response } from 'express'
import { Router } from 'express'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { contextOf } from '../../identity/auth.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import type { ServicedHost } from '../hosts/host-inventory.js'
import { markDownCells } from '../hosts/cell-hosts.js'
import { isUuidLike, numberedHosts, serviced } from '../hosts/host-inventory.js'
import { atLeast, microversionOf } from '../microversion.js'
import { regionOf } from '../request-scope.js'
import { updateServiceV21, updateServiceV253 } from './update.js'
import { serviceView } from './views.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

const POLICY = 'os_compute_api:os-services'

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/**
 * `/os-services` (admin only): the compute services of every cell the endpoint sees, with integer
 * ids before 2.53 and uuids from 2.53. Updates and deletes go down the tree to the owning cell's
 * conductor (`service_update`, `service_delete` CellAdmin operations), which tells its agent to
 * report capacity at once: a disabled or forced-down host leaves scheduling immediately.
 */
export function computeServicesRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const hostsFor = (res: Response) => async (): Promise<ServicedHost[]> => serviced(await numberedHosts(d, contextOf(res), regionOf(res)))

  r.get(
    '/os-services',
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:list`)
      const mv = microversionOf(res)
      const host = str(req.query['host'])
      const binary = str(req.query['binary'])
      const hosts = (await hostsFor(res)()).filter(
        (h) => (host === undefined || host === '' || h.host.host === host) && (binary === undefined || binary === '' || h.host.service.binary === binary),
      )
      const down = await markDownCells(d, res, regionOf(res))
      const services: object[] = hosts.map((h) => serviceView(h, mv))
      if (atLeast(mv, '2.69') && down.length > 0) {
        // Nova's 2.69 partial service records for the hosts of cells that are down.
        const mapped = await d.db.selectFrom('host_mappings').select(['host', 'cell_path']).where('cell_path', 'in', down).orderBy('host').execute()
        for (const m of mapped) {
          if ((host === undefined || host === '' || m.host === host) && (binary === undefined || binary === '' || binary === 'nova-compute')) {
            services.push({ binary: 'nova-compute', host: m.host, status: 'UNKNOWN' })
          }
        }
      }
      res.json({ services })
    }),
  )
  r.put(
    '/os-services/:id',
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:update`)
      const mv = microversionOf(res)
      if (atLeast(mv, '2.53')) await updateServiceV253(d, req, res, hostsFor(res), mv)
      else await updateServiceV21(d, req, res, hostsFor(res), mv)
    }),
  )
  r.delete(
    '/os-services/:id',
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:delete`)
      const id = String(req.params['id'])
      const uuids = atLeast(microversionOf(res), '2.53')
      if (uuids && !isUuidLike(id)) throw new InvalidError(`Invalid uuid ${id}`)
      if (!uuids && !/^\d+$/.test(id)) throw new InvalidError('Invalid input received: id must be an integer')
      const hosts = await hostsFor(res)()
      const h = hosts.find((x) => (uuids ? x.host.service.uuid === id.toLowerCase() : x.serviceId === Number(id)))
      if (h === undefined) throw new NotFoundError(`Service ${id} not found.`)
      const cellPath = h.host.cellPath
      await d.tree.clientFor(cellPath).cellAdmin(contextOf(res), { cellPath, op: 'service_delete', args: { uuid: h.host.service.uuid } })
      if (h.host.service.binary === 'nova-compute') await d.db.deleteFrom('host_mappings').where('host', '=', h.host.host).execute()
      res.status(204).end()
    }),
  )
  return r
}
