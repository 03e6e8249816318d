import type { Request, RequestHandler, Response } from 'express'
import type { RequestContext } from '../../../shared/context.js'
import { InternalError, NotFoundError, UnauthorizedError } from '../../../shared/errors.js'
import { policySubjectOf, requestIdOf } from '../auth.js'
import type { Authenticator } from '../authenticator.js'
import type { CatalogSource } from '../catalog.js'
import type { IdentityStore } from '../identity-store.js'
import type { PolicySubject } from '../policy.js'
import type { TokenData, TokenService } from '../tokens.js'

/** What every identity route file receives. */
export interface RouteDeps {
  readonly store: IdentityStore
  readonly tokens: TokenService
  readonly authenticator: Authenticator
  readonly catalog: CatalogSource
  /** Public URL without `/v3`, no trailing slash. */
  readonly base: string
}

/** Validates `X-Auth-Token` for the protected identity routes; the caller lands on `res.locals.token`. */
export function requireToken(tokens: TokenService): RequestHandler {
  return (req, res, next) => {
    const token = req.get('x-auth-token')
    if (token === undefined || token === '') {
      next(new UnauthorizedError())
      return
    }
    try {
      res.locals.token = tokens.validate(token)
      next()
    } catch (err) {
      next(err)
    }
  }
}

/** The validated caller token. */
export function callerOf(res: Response): TokenData {
  const t = res.locals.token as TokenData | undefined
  if (t === undefined) throw new InternalError('requireToken did not run for this route')
  return t
}

/** The caller as a policy subject. */
export function subjectOf(res: Response): PolicySubject {
  return policySubjectOf(callerOf(res))
}

/** The request context: request id plus, behind {@link requireToken}, who asks. */
export function ctxOf(res: Response): RequestContext {
  const t = res.locals.token as TokenData | undefined
  const requestId = requestIdOf(res)
  if (t === undefined) return { requestId }
  return {
    requestId,
    userId: t.user.id,
    ...(t.scope.kind === 'project' ? { projectId: t.scope.id } : {}),
    roles: t.roles.map((r) => r.name),
  }
}

/** A single-valued query parameter (repeated or absent -> undefined). */
export function queryParam(req: Request, key: string): string | undefined {
  const v: unknown = req.query[key]
  return typeof v === 'string' ? v : undefined
}

/** A boolean query filter (`true`/`false`, Keystone also accepts `1`/`0`), or undefined. */
export function boolParam(req: Request, key: string): boolean | undefined {
  const v = queryParam(req, key)?.toLowerCase()
  if (v === undefined) return undefined
  return !['false', '0', 'no', 'off'].includes(v)
}

/** A route parameter (always present on matched routes). */
export function param(req: Request, key: string): string {
  const v: unknown = req.params[key]
  if (typeof v !== 'string') throw new InternalError(`route parameter ${key} missing`)
  return v
}

/** `row`, or Keystone's 404 (`Could not find <kind>: <id>.`). */
export function found<T>(row: T | undefined, kind: string, id: string): T {
  if (row === undefined) throw new NotFoundError(`Could not find ${kind}: ${id}.`, { kind, id })
  return row
}

/** The keys of `body` that are not in `core`: Keystone stores them as "extra" attributes and echoes them. */
export function extraAttributes(body: Readonly<Record<string, unknown>>, core: readonly string[]): Record<string, unknown> {
  const extra: Record<string, unknown> = {}
  // defineProperty: an extra named `__proto__` must stay an attribute, not re-parent the object.
  for (const [k, v] of Object.entries(body)) if (!core.includes(k)) Object.defineProperty(extra, k, { value: v, enumerable: true, writable: true, configurable: true })
  return extra
}
