import type { Request, Response } from 'express'
import { Router } from 'express'
import type { NetCaller } from './caller.js'
import { listBody, withFields } from './list-query.js'
import { parseNetwork, parseSubnet, parseSubnetUpdate } from './request-schemas.js'
import type { NetworkService } from './service.js'
import { renderNetwork, renderSubnet } from './views.js'

/** Async route handlers with their rejections sent to the error middleware. */
export type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Who is calling (set by the router from the token and the endpoint). */
export const callerOf = (res: Response): NetCaller => res.locals.netCaller as NetCaller

/** The URL of a collection at the endpoint the client used. */
export const collectionUrl = (req: Request, res: Response, collection: string): string =>
  `${req.protocol}://${req.get('host') ?? 'localhost'}${(res.locals.netPrefix as string | undefined) ?? ''}/v2.0/${collection}`

/** `/v2.0/networks` and `/v2.0/subnets`. */
export function networkRoutes(service: NetworkService, wrap: Wrap): Router {
  const r = Router()
  const { networks } = service
  const render = async (rows: readonly Parameters<typeof renderNetwork>[0][], isAdmin: boolean): Promise<Record<string, unknown>[]> => {
    const subnets = await networks.subnetIdsOf(rows.map((n) => n.id))
    return rows.map((n) => renderNetwork(n, subnets.get(n.id) ?? [], isAdmin))
  }
  r.get(
    '/networks',
    wrap(async (req, res) => {
      const c = callerOf(res)
      res.json(listBody(req, 'networks', await render(await networks.listNetworks(c), c.isAdmin), collectionUrl(req, res, 'networks')))
    }),
  )
  r.post(
    '/networks',
    wrap(async (req, res) => {
      const c = callerOf(res)
      const n = await networks.createNetwork(c, parseNetwork(req.body))
      res.status(201).json({ network: renderNetwork(n, [], c.isAdmin) })
    }),
  )
  r.get(
    '/networks/:id',
    wrap(async (req, res) => {
      const c = callerOf(res)
      const [view] = await render([await networks.getNetwork(c, String(req.params['id']))], c.isAdmin)
      res.json({ network: withFields(req, view!) })
    }),
  )
  r.put(
    '/networks/:id',
    wrap(async (req, res) => {
      const c = callerOf(res)
      const [view] = await render([await networks.updateNetwork(c, String(req.params['id']), parseNetwork(req.body))], c.isAdmin)
      res.json({ network: view })
    }),
  )
  r.delete(
    '/networks/:id',
    wrap(async (req, res) => {
      await networks.deleteNetwork(callerOf(res), String(req.params['id']))
      res.status(204).end()
    }),
  )

  r.get(
    '/subnets',
    wrap(async (req, res) => {
      res.json(listBody(req, 'subnets', (await networks.listSubnets(callerOf(res))).map(renderSubnet), collectionUrl(req, res, 'subnets')))
    }),
  )
  r.post(
    '/subnets',
    wrap(async (req, res) => {
      res.status(201).json({ subnet: renderSubnet(await networks.createSubnet(callerOf(res), parseSubnet(req.body))) })
    }),
  )
  r.get(
    '/subnets/:id',
    wrap(async (req, res) => {
      res.json({ subnet: withFields(req, renderSubnet(await networks.getSubnet(callerOf(res), String(req.params['id'])))) })
    }),
  )
  r.put(
    '/subnets/:id',
    wrap(async (req, res) => {
      res.json({ subnet: renderSubnet(await networks.updateSubnet(callerOf(res), String(req.params['id']), parseSubnetUpdate(req.body))) })
    }),
  )
  r.delete(
    '/subnets/:id',
    wrap(async (req, res) => {
      await networks.deleteSubnet(callerOf(res), String(req.params['id']))
      res.status(204).end()
    }),
  )
  return r
}
