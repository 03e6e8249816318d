import type { Request, Response } from 'express'
import express, { Router } from 'express'
import { bodyDepthGuard, percentEncodingGuard } from '../../shared/http/request-guards.js'
import { authMiddleware, authOf, requestIdOf } from '../identity/auth.js'
import type { ErrorLogger } from '../identity/http-errors.js'
import type { TokenService } from '../identity/tokens.js'
import type { NetCaller } from './caller.js'
import { extensionByAlias, extensionList } from './extensions.js'
import { neutronErrorHandler, NeutronError, notFound } from './faults.js'
import type { Wrap } from './network-routes.js'
import { networkRoutes } from './network-routes.js'
import { portRoutes } from './port-routes.js'
import { quotaRoutes } from './quota-routes.js'
import type { NetworkService } from './service.js'

/** What the network listener needs. */
export interface NetworkApiDeps {
  readonly service: NetworkService
  readonly tokens: TokenService
  /** Regions of the tree: each gets `/regions/NAME/v2.0`. */
  readonly regions: readonly string[]
  readonly logger?: ErrorLogger
  /**
   * More routers (security groups, floating IPs) whose paths start with `/v2.0/`: mounted at the
   * root of every endpoint (federation-wide and per region) after the core routes, which
   * authenticate every `/v2.0` request first; they may authenticate again themselves.
   */
  readonly extraRoutes?: readonly Router[]
}

const wrap: Wrap = (fn) => (req, res, next) => {
  fn(req, res).catch(next)
}

/** The resources `GET /v2.0` lists: the core's... */
const RESOURCES: readonly (readonly [string, string])[] = [
  ['network', 'networks'],
  ['subnet', 'subnets'],
  ['port', 'ports'],
  ['extension', 'extensions'],
  ['quota', 'quotas'],
]
/** ...and those of the security group and floating IP routers, when extra routers are mounted. */
const EXTRA_RESOURCES: readonly (readonly [string, string])[] = [
  ['security_group', 'security-groups'],
  ['security_group_rule', 'security-group-rules'],
  ['floatingip', 'floatingips'],
]

const versionDoc = (href: string): Record<string, unknown> => ({ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href }] })

/**
 * The Neutron v2.0 subset on the network listener (port 9696): the federation-wide endpoint at the
 * root, and one per region under `/regions/NAME/` (a network created through a region's endpoint
 * belongs to that region; that endpoint lists its region's networks and the federation-wide ones).
 * `GET /` and `GET /v2.0` need no token; everything else does. Every error renders as
 * `{"NeutronError": {...}}`.
 */
export function networkApi(d: NetworkApiDeps): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.use((_req, res, next) => {
    res.setHeader('x-openstack-request-id', requestIdOf(res))
    next()
  })
  app.use(percentEncodingGuard())
  app.use(express.json({ limit: '1mb', type: () => true }))
  app.use(bodyDepthGuard())
  const auth = authMiddleware(d.tokens)
  const root = (req: Request, prefix: string): string => `${req.protocol}://${req.get('host') ?? 'localhost'}${prefix}`

  const scoped = (region: string | null, prefix: string): Router => {
    const r = Router()
    r.get('/', (req, res) => {
      res.json({ versions: [versionDoc(`${root(req, prefix)}/v2.0/`)] })
    })
    r.get(['/v2.0', '/v2.0/'], (req, res) => {
      const base = `${root(req, prefix)}/v2.0`
      const listed = (d.extraRoutes ?? []).length > 0 ? [...RESOURCES, ...EXTRA_RESOURCES] : RESOURCES
      res.json({ resources: listed.map(([name, collection]) => ({ name, collection, links: [{ rel: 'self', href: `${base}/${collection}` }] })) })
    })
    const v2 = Router()
    v2.use(auth)
    v2.use((_req: Request, res: Response, next) => {
      const a = authOf(res)
      const caller: NetCaller = { projectId: a.projectId, isAdmin: a.isAdmin, region }
      res.locals.netCaller = caller
      res.locals.netPrefix = prefix
      next()
    })
    v2.get('/extensions', (_req, res) => {
      res.json({ extensions: extensionList() })
    })
    v2.get('/extensions/:alias', (req, res) => {
      const e = extensionByAlias(String(req.params['alias']))
      if (e === undefined) throw notFound('Extension', String(req.params['alias']))
      res.json({ extension: e })
    })
    v2.use(networkRoutes(d.service, wrap))
    v2.use(portRoutes(d.service, wrap))
    v2.use(quotaRoutes(d.service, wrap))
    // Neutron's clients append `.json` to some paths (quota details): serve both spellings.
    r.use('/v2.0', (req, _res, next) => {
      if (req.url.includes('.json')) req.url = req.url.replace(/\.json(\?|$)/, '$1')
      next()
    }, v2)
    for (const extra of d.extraRoutes ?? []) r.use(extra)
    return r
  }
  for (const region of d.regions) app.use(`/regions/${region}`, scoped(region, `/regions/${region}`))
  app.use(scoped(null, ''))
  app.use((req, _res, next) => {
    next(new NeutronError({ type: 'HTTPNotFound', status: 404, message: `The resource could not be found: ${req.method} ${req.path}` }))
  })
  app.use(neutronErrorHandler({ ...(d.logger === undefined ? {} : { logger: d.logger }) }))
  return app
}
