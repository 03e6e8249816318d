import express from 'express'
import type { Request, RequestHandler, Router } from 'express'
import { bodyDepthGuard } from '../../../shared/http/request-guards.js'
import type { ErrorLogger } from '../../identity/http-errors.js'
import { badRequest, neutronErrorHandler } from '../security-groups/neutron-faults.js'
import { fieldsOf, paginate, projectFilter, queryValues, resourceBody } from '../security-groups/query.js'
import { bodyProject, callerOf, onlyKeys, optional } from '../security-groups/router.js'
import { neutronTime, selectFields } from '../security-groups/views.js'
import type { Association, FloatingIpRow, FloatingIpStore } from './floating-ip-store.js'

/** What {@link floatingIpRouter} needs. */
export interface FloatingIpRouterDeps {
  readonly store: FloatingIpStore
  /** Authentication (usually `authMiddleware(tokens)`); leave it out when the listener authenticates first. */
  readonly auth?: RequestHandler
  /** Unexpected (5xx) errors are reported here. */
  readonly logger?: ErrorLogger
}

const CREATE_KEYS = new Set(['floating_network_id', 'floating_ip_address', 'port_id', 'fixed_ip_address', 'description', 'project_id', 'tenant_id', 'subnet_id'])
const UPDATE_KEYS = new Set(['port_id', 'fixed_ip_address', 'description'])

/** A floating IP as `/v2.0/floatingips` shows it. */
export function renderFloatingIp(f: FloatingIpRow): Record<string, unknown> {
  return {
    id: f.id,
    project_id: f.project_id,
    tenant_id: f.project_id,
    floating_network_id: f.floating_network_id,
    floating_ip_address: f.floating_ip_address,
    port_id: f.port_id,
    fixed_ip_address: f.fixed_ip_address,
    router_id: null,
    status: f.status,
    description: f.description,
    port_details: null,
    tags: [],
    created_at: neutronTime(f.created_at),
    updated_at: neutronTime(f.updated_at),
    revision_number: f.revision_number,
  }
}

/**
 * Neutron's `/v2.0/floatingips`, to be mounted at the root of the network listener: allocate on a
 * `router:external` network (201), show, list, associate or disassociate with `PUT` (`port_id`,
 * `fixed_ip_address`; `port_id: null` disassociates), delete (204). Other paths fall through.
 *
 * @example
 *   app.use(floatingIpRouter({ store: new FloatingIpStore({ db, directory }), auth: authMiddleware(tokens) }))
 */
export function floatingIpRouter(deps: FloatingIpRouterDeps): Router {
  const { store } = deps
  const router = express.Router()
  const json = [express.json({ limit: '1mb', type: () => true }), bodyDepthGuard()]
  const path = '/v2.0/floatingips'
  if (deps.auth !== undefined) router.use(path, deps.auth)

  router.get(path, async (req, res) => {
    const rows = await store.list(callerOf(res), {
      ...optional('projectId', projectFilter(req)),
      ...optional('ids', queryValues(req, 'id')),
      ...optional('floatingNetworkIds', queryValues(req, 'floating_network_id')),
      ...optional('portIds', queryValues(req, 'port_id')),
      ...optional('floatingIpAddresses', queryValues(req, 'floating_ip_address')),
      ...optional('fixedIpAddresses', queryValues(req, 'fixed_ip_address')),
      ...optional('statuses', queryValues(req, 'status')),
    })
    const { page, links } = paginate(req, 'floatingips', rows)
    res.json({ floatingips: page.map((r) => selectFields(renderFloatingIp(r), fieldsOf(req))), ...optional('floatingips_links', links) })
  })

  router.post(path, ...json, async (req, res) => {
    const b = resourceBody(req.body, 'floatingip')
    onlyKeys(b, CREATE_KEYS)
    const caller = callerOf(res)
    const networkId = b['floating_network_id']
    if (networkId === undefined) throw badRequest("Failed to parse request. Required attribute 'floating_network_id' not specified")
    if (typeof networkId !== 'string') throw badRequest(`Invalid input for floating_network_id. Reason: '${String(networkId)}' is not a valid UUID.`)
    const address = b['floating_ip_address']
    if (address !== undefined && address !== null && typeof address !== 'string') throw badRequest(`Invalid input for floating_ip_address. Reason: '${String(address)}' is not a valid IP address.`)
    const association = associationOf(b)
    const subnetId = b['subnet_id']
    if (subnetId !== undefined && subnetId !== null && typeof subnetId !== 'string') throw badRequest(`Invalid input for subnet_id. Reason: '${String(subnetId)}' is not a valid UUID.`)
    const row = await store.create(caller, {
      networkId,
      description: textOf(b['description']),
      ...optional('projectId', bodyProject(b, caller)),
      ...optional('address', address ?? undefined),
      ...optional('subnetId', subnetId ?? undefined),
      ...optional('association', association ?? undefined),
    })
    res.status(201).json({ floatingip: renderFloatingIp(row) })
  })

  router.get(`${path}/:id`, async (req, res) => {
    res.json({ floatingip: selectFields(renderFloatingIp(await store.get(callerOf(res), id(req))), fieldsOf(req)) })
  })

  router.put(`${path}/:id`, ...json, async (req, res) => {
    const b = resourceBody(req.body, 'floatingip')
    onlyKeys(b, UPDATE_KEYS)
    const row = await store.update(callerOf(res), id(req), {
      ...optional('association', associationOf(b)),
      ...optional('description', b['description'] === undefined ? undefined : textOf(b['description'])),
    })
    res.json({ floatingip: renderFloatingIp(row) })
  })

  router.delete(`${path}/:id`, async (req, res) => {
    await store.delete(callerOf(res), id(req))
    res.status(204).end()
  })

  router.use(path, neutronErrorHandler(deps.logger === undefined ? {} : { logger: deps.logger }))
  return router
}

/** `port_id` (+ `fixed_ip_address`) of a body: an association, `null` to disassociate, undefined when absent. */
function associationOf(b: Record<string, unknown>): Association | null | undefined {
  const portId = b['port_id']
  const fixed = b['fixed_ip_address']
  if (portId === undefined) {
    if (fixed !== undefined && fixed !== null) throw badRequest('Bad floatingip request: fixed_ip_address cannot be specified without a port_id.', 'BadRequest')
    return undefined
  }
  if (portId === null) return null
  if (typeof portId !== 'string') throw badRequest(`Invalid input for port_id. Reason: '${String(portId)}' is not a valid UUID.`)
  if (fixed !== undefined && fixed !== null && typeof fixed !== 'string') throw badRequest(`Invalid input for fixed_ip_address. Reason: '${String(fixed)}' is not a valid IP address.`)
  return { portId, ...optional('fixedIpAddress', fixed ?? undefined) }
}

function textOf(v: unknown): string {
  if (v === undefined || v === null) return ''
  if (typeof v !== 'string' || v.length > 255) throw badRequest(`Invalid input for description. Reason: '${String(v).slice(0, 300)}' is not a valid string or exceeds 255 characters.`)
  return v
}

function id(req: Request): string {
  return String(req.params['id'])
}
