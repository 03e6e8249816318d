import express from 'express'
import type { Router } from 'express'
import type { Kysely } from 'kysely'
import { NotFoundError } from '../../shared/errors.js'
import { bodyDepthGuard, percentEncodingGuard } from '../../shared/http/request-guards.js'
import { requestIdOf } from './auth.js'
import { Authenticator } from './authenticator.js'
import type { CatalogSource } from './catalog.js'
import { resolveCatalog } from './catalog.js'
import { keystoneErrorHandler } from './http-errors.js'
import type { ErrorLogger } from './http-errors.js'
import { IdentityStore } from './identity-store.js'
import type { ScryptCost } from './password-hasher.js'
import { registerCatalogRoutes } from './routes/catalog-routes.js'
import { registerDomainRoutes } from './routes/domain-routes.js'
import { registerProjectRoutes } from './routes/project-routes.js'
import { requireToken } from './routes/route-kit.js'
import type { RouteDeps } from './routes/route-kit.js'
import { registerRoleRoutes } from './routes/role-routes.js'
import { registerIssueRoute, registerTokenRoutes } from './routes/token-routes.js'
import { registerUserRoutes } from './routes/user-routes.js'
import { registerVersionRoutes } from './routes/version-routes.js'
import type { IdentityTables } from './schema.js'
import type { TokenService } from './tokens.js'

/** What the identity router needs. */
export interface IdentityRouterDeps {
  /** The API database (identity tables migrated). */
  readonly db: Kysely<IdentityTables>
  readonly tokens: TokenService
  /** The service catalog config, or a function returning the current one. */
  readonly catalog: CatalogSource
  /** Base URL clients reach this listener at, e.g. `http://host:5000` (a trailing `/v3` is tolerated). */
  readonly publicUrl: string
  /** Unexpected (5xx) errors are reported here. */
  readonly logger?: ErrorLogger
  /** scrypt cost of new password hashes (tests lower it; production keeps the default). */
  readonly passwordCost?: ScryptCost
}

/**
 * The Keystone v3 subset, mounted at the root of the identity listener (port 5000). It parses JSON,
 * sets `x-openstack-request-id`, authenticates `/v3/*` with `X-Auth-Token` (except token issue and
 * version discovery), answers unknown routes with 404, and renders every error in Keystone's shape:
 * `{"error":{"code":N,"title":"...","message":"..."}}`.
 *
 * @example
 *   app.use(identityRouter({ db, tokens, catalog: { regions, identityUrl, imageUrl, computeUrls }, publicUrl }))
 */
export function identityRouter(deps: IdentityRouterDeps): Router {
  if (typeof deps.catalog !== 'function') resolveCatalog(deps.catalog) // fail at start-up, not on the first token
  const base = deps.publicUrl.replace(/\/+$/, '').replace(/\/v3$/, '')
  const store = new IdentityStore(deps.db, { revoker: deps.tokens, passwordCost: deps.passwordCost })
  const routeDeps: RouteDeps = {
    store,
    tokens: deps.tokens,
    authenticator: new Authenticator(store, deps.tokens),
    catalog: deps.catalog,
    base,
  }

  const router = express.Router()
  router.use((_req, res, next) => {
    res.setHeader('x-openstack-request-id', requestIdOf(res))
    next()
  })
  router.use(percentEncodingGuard())
  router.use(express.json({ limit: '64kb', type: ['application/json', 'application/*+json'] }))
  router.use(bodyDepthGuard())

  registerVersionRoutes(router, routeDeps)
  registerIssueRoute(router, routeDeps)

  router.use('/v3', requireToken(deps.tokens))
  registerTokenRoutes(router, routeDeps)
  registerCatalogRoutes(router, routeDeps)
  registerDomainRoutes(router, routeDeps)
  registerProjectRoutes(router, routeDeps)
  registerUserRoutes(router, routeDeps)
  registerRoleRoutes(router, routeDeps)

  router.use((_req, _res, next) => next(new NotFoundError('The resource could not be found.')))
  router.use(keystoneErrorHandler({ publicUrl: base, ...(deps.logger === undefined ? {} : { logger: deps.logger }) }))
  return router
}
