import { Router } from 'express'
import type { Wrap } from './network-routes.js'
import { callerOf, collectionUrl } from './network-routes.js'
import { listBody, withFields } from './list-query.js'
import { parsePort } from './request-schemas.js'
import type { PortTable } from './schema.js'
import type { NetworkService } from './service.js'
import { renderPort } from './views.js'

/** `/v2.0/ports`. */
export function portRoutes(service: NetworkService, wrap: Wrap): Router {
  const r = Router()
  const { ports } = service
  const render = async (rows: readonly PortTable[], isAdmin: boolean): Promise<Record<string, unknown>[]> => {
    const ips = await ports.fixedIpsOf(rows.map((p) => p.id))
    const groups = await ports.groupsOf(rows)
    return rows.map((p) => renderPort(p, ips.get(p.id) ?? [], isAdmin, groups.get(p.id) ?? []))
  }
  r.get(
    '/ports',
    wrap(async (req, res) => {
      const c = callerOf(res)
      res.json(listBody(req, 'ports', await render(await ports.listPorts(c), c.isAdmin), collectionUrl(req, res, 'ports')))
    }),
  )
  r.post(
    '/ports',
    wrap(async (req, res) => {
      const c = callerOf(res)
      const input = parsePort(req.body, true)
      const [view] = await render([await ports.createPort(c, { ...input, networkId: input.networkId ?? '' })], c.isAdmin)
      res.status(201).json({ port: view })
    }),
  )
  r.get(
    '/ports/:id',
    wrap(async (req, res) => {
      const c = callerOf(res)
      const [view] = await render([await ports.getPort(c, String(req.params['id']))], c.isAdmin)
      res.json({ port: withFields(req, view!) })
    }),
  )
  r.put(
    '/ports/:id',
    wrap(async (req, res) => {
      const c = callerOf(res)
      const [view] = await render([await ports.updatePort(c, String(req.params['id']), parsePort(req.body, false))], c.isAdmin)
      res.json({ port: view })
    }),
  )
  r.delete(
    '/ports/:id',
    wrap(async (req, res) => {
      await ports.deletePort(callerOf(res), String(req.params['id']))
      res.status(204).end()
    }),
  )
  return r
}
