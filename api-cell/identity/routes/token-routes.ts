import type { Request, Router } from 'express'
import { ForbiddenError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import { resolveCatalog } from '../catalog.js'
import { authorize } from '../policy.js'
import { parseBody, authRequestSchema } from '../request-schemas.js'
import type { TokenData } from '../tokens.js'
import { listLinks, renderDomain, renderProject, renderToken } from '../views.js'
import { callerOf, ctxOf, requireToken, subjectOf } from './route-kit.js'
import type { RouteDeps } from './route-kit.js'

/** `POST /v3/auth/tokens`: the one unauthenticated route besides version discovery. */
export function registerIssueRoute(router: Router, deps: RouteDeps): void {
  router.post('/v3/auth/tokens', async (req, res) => {
    const request = parseBody(authRequestSchema, req.body)
    const { token, data } = await deps.authenticator.authenticate(ctxOf(res), request)
    res.status(201).setHeader('X-Subject-Token', token)
    res.json(renderToken(data, { catalog: catalogFor(deps, req, data) }))
  })
}

/**
 * Token validation (`GET`/`HEAD`), revocation (`DELETE`), and the token owner's views:
 * `/v3/auth/projects`, `/v3/auth/domains`, `/v3/auth/catalog`.
 */
export function registerTokenRoutes(router: Router, deps: RouteDeps): void {
  const auth = requireToken(deps.tokens)

  // Express answers HEAD with this GET handler, without the body: Keystone's "check token".
  router.get('/v3/auth/tokens', auth, (req, res) => {
    const { token, data } = subjectToken(deps, req)
    authorize(subjectOf(res), 'identity:validate_token', { userId: data.user.id })
    res.setHeader('X-Subject-Token', token)
    res.json(renderToken(data, { catalog: catalogFor(deps, req, data) }))
  })

  router.delete('/v3/auth/tokens', auth, async (req, res) => {
    const { data } = subjectToken(deps, req)
    authorize(subjectOf(res), 'identity:revoke_token', { userId: data.user.id })
    await deps.tokens.revokeToken(ctxOf(res), data)
    res.status(204).end()
  })

  router.get('/v3/auth/projects', auth, async (_req, res) => {
    const ctx = ctxOf(res)
    const projects = await deps.store.projectsOfUser(ctx, callerOf(res).user.id)
    res.json({
      projects: projects.filter((p) => p.enabled === 1).map((p) => renderProject(deps.base, p)),
      links: listLinks(deps.base, '/auth/projects'),
    })
  })

  router.get('/v3/auth/domains', auth, async (_req, res) => {
    const ctx = ctxOf(res)
    const assignments = await deps.store.listAssignments(ctx, { userId: callerOf(res).user.id, targetType: 'domain' })
    const domains = await deps.store.listDomains(ctx)
    const mine = new Set(assignments.map((a) => a.target_id))
    res.json({
      domains: domains.filter((d) => mine.has(d.id) && d.enabled === 1).map((d) => renderDomain(deps.base, d)),
      links: listLinks(deps.base, '/auth/domains'),
    })
  })

  router.get('/v3/auth/catalog', auth, (_req, res) => {
    const caller = callerOf(res)
    if (caller.scope.kind === 'unscoped') throw new ForbiddenError('A scoped token is required to get a catalog.')
    res.json({ catalog: resolveCatalog(deps.catalog).services, links: listLinks(deps.base, '/auth/catalog') })
  })
}

function subjectToken(deps: RouteDeps, req: Request): { token: string; data: TokenData } {
  const token = req.get('x-subject-token')
  if (token === undefined || token === '') throw new InvalidError('Expecting to find X-Subject-Token in request headers.')
  try {
    return { token, data: deps.tokens.validate(token) }
  } catch {
    // Keystone answers 404 for an invalid, expired or revoked subject token. Never echo the token.
    throw new NotFoundError('Could not find token.')
  }
}

function catalogFor(deps: RouteDeps, req: Request, data: TokenData): ReturnType<typeof resolveCatalog>['services'] | undefined {
  if (data.scope.kind === 'unscoped' || req.query.nocatalog !== undefined) return undefined
  return resolveCatalog(deps.catalog).services
}
