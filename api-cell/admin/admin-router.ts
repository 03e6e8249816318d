import type { NextFunction, Request, Response } from 'express'
import express, { Router } from 'express'
import { InvalidError, NotFoundError } from '../../shared/errors.js'
import { bodyDepthGuard, percentEncodingGuard } from '../../shared/http/request-guards.js'
import { isUuid } from '../../shared/uuid.js'
import { authMiddleware, authOf, contextOf, requestIdOf } from '../identity/auth.js'
import { toHttpFailure } from '../identity/http-errors.js'
import type { TokenService } from '../identity/tokens.js'
import { capacityView } from './capacity-view.js'
import { buildLimit, outboxView, recentBuilds } from './cell-activity.js'
import { createCell, setCellDisabled, updateCell } from './cell-changes.js'
import { deleteCell } from './cell-delete.js'
import { drainCell, drainProgress } from './cell-drain.js'
import { listCellViews, showCellView } from './cell-reads.js'
import { nestCells } from './cell-views.js'
import { mapCell0 } from './cell0-mapping.js'
import type { AdminDeps } from './deps.js'
import { deleteHost, discoverHosts, listHosts } from './host-operations.js'
import { listInstances, parseInstanceQuery } from './instance-list.js'
import { verifyInstance } from './instance-verify.js'
import type { AdminPolicyRule } from './policy.js'
import { authorizeAdmin } from './policy.js'
import { cellPathParam, createCellBody, disableCellBody, discoverBody, mapCell0Body, parseInput, updateCellBody } from './request-schemas.js'

/** Where the API is mounted on the compute listener. */
export const ADMIN_API_PREFIX = '/cell-admin'
/**
 * True when an HTTP request line (`GET /cell-admin/v1/cells HTTP/1.1`) targets this API: the compute
 * listener answers requests its parser rejects in the shape of the API they were meant for.
 */
export function isAdminRequestLine(line: string): boolean {
  const path = (line.split(' ')[1] ?? '').split('?')[0] ?? ''
  return path === ADMIN_API_PREFIX || path.startsWith(`${ADMIN_API_PREFIX}/`)
}

/** The version this router serves. */
export const ADMIN_API_VERSION = 'v1'

type Handler = (req: Request, res: Response) => Promise<unknown>

const pathParam = (req: Request): string => parseInput(cellPathParam, String(req.params['path'] ?? ''), 'cell path')
const queryCell = (req: Request): string | null => {
  const v = req.query['cell']
  return v === undefined || v === '' ? null : parseInput(cellPathParam, String(v), 'cell query')
}

/**
 * The cell administration REST API (what `cellctl` drives), mounted at `/cell-admin` on the compute
 * listener. Every `/v1` route needs a token with the `admin` role (see policy.ts): no token is a
 * 401, a non-admin token a 403. Errors are JSON in Keystone's shape
 * (`{"error":{"code":404,"title":"Not Found","message":"..."}}`) and every response carries
 * `x-openstack-request-id`. See docs/admin-api.md for each route.
 */
export function adminRouter(d: AdminDeps, tokens: TokenService): Router {
  const router = Router()
  router.use((_req, res, next) => {
    res.setHeader('x-openstack-request-id', requestIdOf(res))
    next()
  })
  router.use(percentEncodingGuard())
  router.get('/', (req, res) => {
    const root = `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`
    res.json({ versions: [{ id: ADMIN_API_VERSION, status: 'CURRENT', links: [{ rel: 'self', href: `${root}/${ADMIN_API_VERSION}/` }] }] })
  })

  const v1 = Router()
  v1.use(express.json({ limit: '64kb', type: () => true }))
  v1.use(bodyDepthGuard())
  v1.use(authMiddleware(tokens))
  /** Registers a route that checks `rule`, runs `fn` and answers its result as JSON. */
  const route = (method: 'get' | 'post' | 'put' | 'delete', path: string, rule: AdminPolicyRule, fn: Handler, status = 200): void => {
    v1[method](path, (req: Request, res: Response, next: NextFunction) => {
      Promise.resolve()
        .then(async () => {
          authorizeAdmin(authOf(res), rule)
          const body = await fn(req, res)
          res.status(status).json(body)
        })
        .catch(next)
    })
  }
  const ctx = contextOf

  route('get', '/cells', 'cells:list', async () => ({ cells: await listCellViews(d.db, d.tree) }))
  route('get', '/cells/tree', 'cells:list', async () => ({ tree: nestCells(await listCellViews(d.db, d.tree)) }))
  route('get', '/cells/:path/outbox', 'cells:outbox', async (req, res) => ({ outbox: await outboxView(d, ctx(res), pathParam(req)) }))
  route('get', '/cells/:path', 'cells:show', async (req) => ({ cell: await showCellView(d.db, d.tree, pathParam(req)) }))
  route(
    'post',
    '/cells',
    'cells:create',
    async (req, res) => {
      const { cell: c } = parseInput(createCellBody, req.body, 'request body')
      const created = await createCell(d, ctx(res), {
        parent: c.parent,
        name: c.name,
        grpcAddress: c.grpc_address,
        databaseUrl: c.database_url,
        transportUrl: c.transport_url,
        weightOffset: c.weight_offset,
      })
      return { cell: created }
    },
    201,
  )
  route('put', '/cells/:path', 'cells:update', async (req, res) => {
    const path = pathParam(req)
    const { cell: c } = parseInput(updateCellBody, req.body, 'request body')
    return updateCell(d, ctx(res), path, { name: c.name, weightOffset: c.weight_offset, grpcAddress: c.grpc_address })
  })
  route('post', '/cells/:path/disable', 'cells:disable', async (req, res) => {
    const path = pathParam(req)
    const { reason } = parseInput(disableCellBody, req.body, 'request body')
    return setCellDisabled(d, ctx(res), path, true, reason)
  })
  route('post', '/cells/:path/enable', 'cells:disable', async (req, res) => setCellDisabled(d, ctx(res), pathParam(req), false, null))
  route('delete', '/cells/:path', 'cells:delete', async (req, res) => {
    const force = req.query['force']
    if (force !== undefined && force !== 'true' && force !== 'false') throw new InvalidError('Invalid force query: must be true or false')
    return deleteCell(d, ctx(res), pathParam(req), force === 'true')
  })

  route('post', '/cells/:path/drain', 'cells:drain', async (req, res) => ({ drain: await drainCell(d, ctx(res), pathParam(req)) }), 202)
  route('get', '/cells/:path/drain', 'cells:drain', async (req) => {
    const since = Number(req.query['since'] ?? 0)
    if (!Number.isInteger(since) || since < 0) throw new InvalidError('Invalid since query: must be a time in ms since the epoch')
    return { drain: await drainProgress(d, pathParam(req), since) }
  })

  route('get', '/hosts', 'hosts:list', async (req, res) => listHosts(d, ctx(res), queryCell(req)))
  route('post', '/hosts/discover', 'hosts:discover', async (req, res) => {
    const { cell } = parseInput(discoverBody, req.body, 'request body')
    return discoverHosts(d, ctx(res), cell ?? null)
  })
  route('delete', '/hosts/:host', 'hosts:delete', async (req, res) => deleteHost(d, ctx(res), String(req.params['host'] ?? '')))

  route('get', '/instances/:uuid/verify', 'instances:verify', async (req, res) => {
    const uuid = String(req.params['uuid'] ?? '')
    if (!isUuid(uuid)) throw new NotFoundError(`Instance ${uuid} has no mapping.`)
    return { instance: await verifyInstance(d, ctx(res), uuid) }
  })
  route('post', '/cell0/map', 'cell0:map', async (req, res) => {
    const { database_url } = parseInput(mapCell0Body, req.body, 'request body')
    return mapCell0(d, ctx(res), database_url)
  })
  route('get', '/builds', 'builds:list', async (req) => recentBuilds(d, queryCell(req), buildLimit(req.query['limit'])))
  route('get', '/instances', 'instances:list', async (req) => listInstances(d.db, d.tree, parseInstanceQuery(req.query as Record<string, unknown>)))
  route('get', '/capacity', 'capacity:show', async (req) => {
    const flavor = req.query['flavor']
    return capacityView(d.db, d.tree, typeof flavor === 'string' && flavor !== '' ? flavor : null)
  })

  v1.use((_req, _res, next) => next(new NotFoundError('The resource could not be found.')))
  router.use(`/${ADMIN_API_VERSION}`, v1)
  router.use((_req, _res, next) => next(new NotFoundError('The resource could not be found.')))
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const f = toHttpFailure(err)
    if (f.unexpected) d.log.error({ requestId: requestIdOf(res), err: err instanceof Error ? err.stack : String(err), method: req.method, path: req.path }, 'admin API error')
    res.status(f.status).json({ error: { code: f.status, title: f.title, message: f.message } })
  })
  return router
}
