import type { NextFunction, Request, RequestHandler, Response } from 'express'
import express, { Router } from 'express'
import { AppError, NotFoundError } from '../../shared/errors.js'
import { bodyDepthGuard, percentEncodingGuard } from '../../shared/http/request-guards.js'
import { authMiddleware, requestIdOf } from '../identity/auth.js'
import type { TokenService } from '../identity/tokens.js'
import { auditLogRouter } from './admin-apis/audit-log-router.js'
import { externalEventsRouter } from './admin-apis/external-events-router.js'
import { tenantUsageRouter } from './admin-apis/tenant-usage-router.js'
import { aggregatesRouter } from './aggregates/router.js'
import { availabilityZonesRouter } from './availability-zones/router.js'
import { computeServicesRouter } from './compute-services/router.js'
import type { ComputeDeps } from './deps.js'
import { computeErrorHandler } from './faults.js'
import { flavorsRouter } from './flavors/router.js'
import { hypervisorsRouter } from './hypervisors/router.js'
import { imagesProxyRouter } from './images/router.js'
import { keypairsRouter } from './keypairs/router.js'
import { MAX_VERSION, MIN_VERSION, microversionMiddleware } from './microversion.js'
import { limitsRouter } from './quotas/limits-router.js'
import { migrationsRouter } from './migrations/router.js'
import { quotaClassRouter } from './quotas/quota-class-router.js'
import { quotasRouter } from './quotas/router.js'
import { securityGroupsRouter } from './security-groups/router.js'
import { serverGroupsRouter } from './server-groups/router.js'
import { serversRouter } from './servers/router.js'

type Handler = (req: Request, res: Response) => Promise<void>

/** Routes async handlers' rejections to the error middleware. */
export const wrap =
  (fn: Handler) =>
  (req: Request, res: Response, next: (e: unknown) => void): void => {
    fn(req, res).catch(next)
  }

const V21_UPDATED = '2013-07-23T11:33:21Z'
const V20_UPDATED = '2011-01-21T11:33:21Z'

function versionEntry(root: string, id: 'v2.0' | 'v2.1'): Record<string, unknown> {
  const v21 = id === 'v2.1'
  return {
    id,
    status: v21 ? 'CURRENT' : 'SUPPORTED',
    version: v21 ? MAX_VERSION : '',
    min_version: v21 ? MIN_VERSION : '',
    updated: v21 ? V21_UPDATED : V20_UPDATED,
    links: [{ rel: 'self', href: `${root}/${v21 ? 'v2.1' : 'v2'}/` }],
  }
}

const MEDIA_TYPES = [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }]

class GoneError extends AppError {
  constructor() {
    super({ code: 'gone', status: 410, message: 'Gone' })
  }
}

/**
 * The compute API listener: Nova v2.1 (and the legacy `/v2`) at the root for the whole federation,
 * and under `/regions/<region>/` for each region (a region endpoint sees and schedules only inside
 * its region's subtree). JSON always, request ids on every response.
 */
export function computeApp(d: ComputeDeps, tokens: TokenService): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('trust proxy', false)
  app.use((_req, res, next) => {
    const id = requestIdOf(res)
    res.setHeader('x-openstack-request-id', id)
    res.setHeader('x-compute-request-id', id)
    next()
  })
  app.use(percentEncodingGuard())
  app.use(express.json({ limit: '1mb', type: () => true }))
  app.use(bodyDepthGuard())
  const auth = authMiddleware(tokens)

  const scoped = (region: string | null, prefix: string): Router => {
    const r = Router()
    r.use((_req, res, next) => {
      res.locals.region = region
      res.locals.prefix = prefix
      next()
    })
    const root = (req: Request): string => `${req.protocol}://${req.get('host') ?? 'localhost'}${prefix}`
    r.get('/', (req, res) => {
      res.status(200).json({ versions: [versionEntry(root(req), 'v2.0'), versionEntry(root(req), 'v2.1')] })
    })
    const doc = (id: 'v2.0' | 'v2.1'): RequestHandler => (req, res) => {
      res.json({ version: { ...versionEntry(root(req), id), 'media-types': MEDIA_TYPES } })
    }
    const api = (legacy: boolean): Router => {
      const v = Router()
      v.use((_req, res, next) => {
        res.locals.apiVersionPath = legacy ? 'v2' : 'v2.1'
        next()
      })
      v.get('/', doc(legacy ? 'v2.0' : 'v2.1'))
      v.use(microversionMiddleware({ legacy }))
      v.use('/os-cells', (_req, _res, next) => next(new GoneError()))
      v.use(auth)
      // Before the servers router: it answers the security group actions only with `securityGroups`.
      v.use(securityGroupsRouter(d, wrap))
      v.use(serversRouter(d, wrap))
      v.use(flavorsRouter(d, wrap))
      v.use(keypairsRouter(d, wrap))
      v.use(serverGroupsRouter(d, wrap))
      v.use(quotasRouter(d, wrap))
      v.use(quotaClassRouter(d, wrap))
      v.use(limitsRouter(d, wrap))
      v.use(hypervisorsRouter(d, wrap))
      v.use(computeServicesRouter(d, wrap))
      v.use(availabilityZonesRouter(d, wrap))
      v.use(aggregatesRouter(d, wrap))
      v.use(migrationsRouter(d, wrap))
      v.use(externalEventsRouter(d, wrap))
      v.use(auditLogRouter(d, wrap))
      v.use(tenantUsageRouter(d, wrap))
      v.use(imagesProxyRouter(d, wrap))
      v.use((_req, _res, next) => next(new NotFoundError('The resource could not be found.')))
      return v
    }
    r.use('/v2.1', api(false))
    r.use('/v2', api(true))
    return r
  }

  for (const region of d.regions) app.use(`/regions/${region}`, scoped(region, `/regions/${region}`))
  app.use('/regions/:region', (req: Request, _res: Response, next: NextFunction) =>
    next(new NotFoundError(`Region ${String(req.params['region'])} could not be found.`)),
  )
  app.use('/', scoped(null, ''))
  app.use((_req, _res, next) => next(new NotFoundError('The resource could not be found.')))
  app.use(computeErrorHandler(d.log))
  return app
}
