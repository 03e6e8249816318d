import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { newRequestId } from '../../shared/context.js'
import type { RequestContext } from '../../shared/context.js'
import { ForbiddenError, InternalError, UnauthorizedError } from '../../shared/errors.js'
import type { PolicySubject } from './policy.js'
import type { TokenData, TokenService } from './tokens.js'

/**
 * Who is calling, as the compute and image APIs see it: always project-scoped. Read it with
 * {@link authOf}; it lives on `res.locals.auth`.
 */
export interface AuthContext {
  readonly userId: string
  readonly userName: string
  readonly userDomainId: string
  readonly projectId: string
  readonly projectName: string
  /** The project's domain. */
  readonly domainId: string
  /** Effective role names (implied roles included). */
  readonly roles: readonly string[]
  /** Holds the `admin` role (Nova's and Glance's `is_admin`). */
  readonly isAdmin: boolean
  /** This token's audit id (for logs: never log the token itself). */
  readonly auditId: string
  /** Epoch ms. */
  readonly expiresAt: number
}

/** Options of {@link authMiddleware}. */
export interface AuthMiddlewareOptions {
  /** Header carrying the token; Keystone's is `X-Auth-Token`. */
  readonly header?: string
}

/**
 * Express middleware for the compute and image listeners: validates `X-Auth-Token` (no database
 * round trip) and sets `res.locals.auth` ({@link AuthContext}) and `res.locals.ctx`
 * ({@link RequestContext}, reusing `res.locals.requestId` when an earlier middleware set one).
 *
 * Failures go to `next(err)` and are rendered by the listener's error middleware: a missing, bad,
 * expired or revoked token is {@link UnauthorizedError} (401); a valid token that is not scoped to a
 * project is {@link ForbiddenError} (403), as Nova's policy answers for it.
 *
 * @example
 *   app.use(authMiddleware(tokens))
 *   app.get('/v2.1/servers', (req, res) => { const { projectId } = authOf(res); ... })
 */
export function authMiddleware(tokens: TokenService, options: AuthMiddlewareOptions = {}): RequestHandler {
  const header = options.header ?? 'x-auth-token'
  return (req: Request, res: Response, next: NextFunction): void => {
    const token = req.get(header)
    if (token === undefined || token === '') {
      next(new UnauthorizedError())
      return
    }
    let data: TokenData
    try {
      data = tokens.validate(token)
    } catch (err) {
      next(err)
      return
    }
    const auth = toAuthContext(data)
    if (auth === undefined) {
      next(new ForbiddenError('A project-scoped token is required.'))
      return
    }
    res.locals.auth = auth
    res.locals.ctx = contextFor(res, auth)
    next()
  }
}

/** The {@link AuthContext} a project-scoped token describes; undefined for other scopes. */
export function toAuthContext(data: TokenData): AuthContext | undefined {
  if (data.scope.kind !== 'project') return undefined
  const roles = data.roles.map((r) => r.name)
  return Object.freeze({
    userId: data.user.id,
    userName: data.user.name,
    userDomainId: data.user.domainId,
    projectId: data.scope.id,
    projectName: data.scope.name,
    domainId: data.scope.domainId,
    roles: Object.freeze(roles),
    isAdmin: roles.includes('admin'),
    auditId: data.auditIds[0] ?? '',
    expiresAt: data.expiresAt,
  })
}

/** The caller of a request that went through {@link authMiddleware}. Throws when it did not. */
export function authOf(res: Response): AuthContext {
  const auth = res.locals.auth as AuthContext | undefined
  if (auth === undefined) throw new InternalError('authMiddleware did not run for this route')
  return auth
}

/** The request context set by {@link authMiddleware}. Throws when it did not run. */
export function contextOf(res: Response): RequestContext {
  const ctx = res.locals.ctx as RequestContext | undefined
  if (ctx === undefined) throw new InternalError('authMiddleware did not run for this route')
  return ctx
}

/** The policy subject a token describes (any scope). */
export function policySubjectOf(data: TokenData): PolicySubject {
  const s = data.scope
  return {
    userId: data.user.id,
    roles: data.roles.map((r) => r.name),
    projectId: s.kind === 'project' ? s.id : undefined,
    domainId: s.kind === 'project' ? s.domainId : s.kind === 'domain' ? s.id : undefined,
  }
}

/** The request id of this response, created (and remembered on `res.locals.requestId`) when missing. */
export function requestIdOf(res: Response): string {
  const existing: unknown = res.locals.requestId
  if (typeof existing === 'string' && existing !== '') return existing
  const id = newRequestId()
  res.locals.requestId = id
  return id
}

function contextFor(res: Response, auth: AuthContext): RequestContext {
  return { requestId: requestIdOf(res), userId: auth.userId, projectId: auth.projectId, roles: auth.roles, deadline: Date.now() + REQUEST_BUDGET_MS }
}

/**
 * The budget of one API request: every call it makes to a cell carries the time left of it (and
 * each cell passes a shrinking share down), so that a hung cell costs a request at most this long.
 */
export const REQUEST_BUDGET_MS = 30_000
