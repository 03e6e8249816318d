import type { RequestContext } from '../../shared/context.js'
import { AppError, InvalidError, UnauthorizedError } from '../../shared/errors.js'
import type { DomainRow, IdentityStore, ProjectRow, RoleRow, UserRow } from './identity-store.js'
import { verifyPassword } from './password-hasher.js'
import { withImpliedRoles } from './policy.js'
import type { AuthRequest, DomainRef, ScopeRequest } from './request-schemas.js'
import type { AssignmentTarget } from './schema.js'
import type { IssuedToken, TokenData, TokenRole, TokenScope, TokenService } from './tokens.js'

/**
 * Authentication methods we implement. Keystone's others (application_credential, totp, oauth1,
 * mapped, external, ...) get Keystone's answer for a method not enabled: 401.
 */
const SUPPORTED_METHODS = ['password', 'token'] as const
/** Reads of a token's contents before giving up while revocations keep arriving (each one re-reads). */
const MAX_ISSUE_ATTEMPTS = 5
/** Keystone's scope kinds; a scope must name exactly one. */
const SCOPE_KEYS = ['project', 'domain', 'system', 'unscoped', 'OS-TRUST:trust'] as const
const UNAUTHORIZED = 'The request you have made requires authentication.'
const MALFORMED = 'The server could not comply with the request since it is either malformed or otherwise incorrect.'

/**
 * Turns a `POST /v3/auth/tokens` request into a token: identifies the user (password, or an existing
 * token for rescoping), resolves the scope, collects the roles held there (plus implied roles) and
 * signs. Every authentication failure is the same 401, whatever the cause, so that callers cannot
 * probe which users, projects or passwords exist.
 */
export class Authenticator {
  readonly #store: IdentityStore
  readonly #tokens: TokenService

  constructor(store: IdentityStore, tokens: TokenService) {
    this.#store = store
    this.#tokens = tokens
  }

  async authenticate(ctx: RequestContext, request: AuthRequest): Promise<IssuedToken> {
    // A revocation landing while we read (a password changed after we checked it, a grant removed
    // after its role was read) must not be outlived by the token built from that read: when any
    // revocation arrived meanwhile, the whole authentication runs again on fresh data.
    for (let attempt = 1; ; attempt += 1) {
      const generation = this.#tokens.revocationGeneration
      const issued = await this.#attempt(ctx, request)
      if (this.#tokens.revocationGeneration === generation) return issued
      if (attempt >= MAX_ISSUE_ATTEMPTS) {
        throw new AppError({ code: 'busy', status: 503, message: 'Identity data is changing; try again.' })
      }
    }
  }

  async #attempt(ctx: RequestContext, request: AuthRequest): Promise<IssuedToken> {
    const { identity } = request.auth
    const methods = identity.methods
    if (methods.some((m) => !(SUPPORTED_METHODS as readonly string[]).includes(m))) {
      throw new UnauthorizedError('Attempted to authenticate with an unsupported method.')
    }
    // As Keystone: the scope's shape is checked before any credential.
    if (request.auth.scope !== undefined && request.auth.scope !== 'unscoped') checkScopeShape(request.auth.scope)
    let user: UserRow | undefined
    let parent: TokenData | undefined
    if (methods.includes('password')) {
      if (identity.password === undefined) throw new InvalidError("Invalid input for field 'identity.password': required.")
      user = await this.#passwordUser(ctx, identity.password.user)
    } else if (methods.includes('token')) {
      if (identity.token === undefined) throw new InvalidError("Invalid input for field 'identity.token': required.")
      parent = this.#tokens.validate(identity.token.id)
      user = await this.#store.getUser(ctx, parent.user.id)
    }
    if (user === undefined || user.enabled !== 1) throw new UnauthorizedError(UNAUTHORIZED)
    const userDomain = await this.#store.getDomain(ctx, user.domain_id)
    if (userDomain === undefined || userDomain.enabled !== 1) throw new UnauthorizedError(UNAUTHORIZED)

    const { scope, roles } = await this.#scope(ctx, user, request.auth.scope)
    return this.#tokens.issue({
      user: { id: user.id, name: user.name, domainId: userDomain.id, domainName: userDomain.name },
      scope,
      roles,
      methods: parent === undefined ? methods : [...new Set([...methods, ...parent.methods])],
      ...(parent === undefined ? {} : { parent }),
    })
  }

  async #passwordUser(
    ctx: RequestContext,
    u: {
      readonly id?: string | undefined
      readonly name?: string | undefined
      readonly password: string
      readonly domain?: DomainRef | undefined
    },
  ): Promise<UserRow | undefined> {
    let user: UserRow | undefined
    if (u.id !== undefined) {
      user = await this.#store.getUser(ctx, u.id)
    } else if (u.name !== undefined) {
      if (u.domain === undefined) throw new InvalidError(`Expecting to find domain in user. ${MALFORMED}`)
      const domain = await this.#domain(ctx, u.domain)
      user = domain === undefined ? undefined : await this.#store.findUserByName(ctx, domain.id, u.name)
    } else {
      throw new InvalidError("Invalid input for field 'identity.password.user': either id or name is required.")
    }
    // Always verify, even for an unknown user: equal timing for every failure.
    const ok = await verifyPassword(u.password, user?.password_hash ?? null)
    return ok ? user : undefined
  }

  async #scope(
    ctx: RequestContext,
    user: UserRow,
    request: ScopeRequest | undefined,
  ): Promise<{ scope: TokenScope; roles: TokenRole[] }> {
    if (request === undefined) return this.#defaultScope(ctx, user)
    if (request === 'unscoped') return { scope: { kind: 'unscoped' }, roles: [] }
    checkScopeShape(request)
    if (request.unscoped !== undefined) return { scope: { kind: 'unscoped' }, roles: [] }
    if (request.project !== undefined) {
      const project = await this.#project(ctx, request.project)
      if (project === undefined) throw new UnauthorizedError(UNAUTHORIZED)
      return this.#projectScope(ctx, user, project, true)
    }
    if (request.domain !== undefined) {
      const domain = await this.#domain(ctx, request.domain)
      if (domain === undefined || domain.enabled !== 1) throw new UnauthorizedError(UNAUTHORIZED)
      const roles = await this.#roles(ctx, user, 'domain', domain.id)
      return { scope: { kind: 'domain', id: domain.id, name: domain.name }, roles }
    }
    if (request.system?.all !== true) throw new InvalidError('System scope must be {"all": true}.')
    return { scope: { kind: 'system' }, roles: await this.#roles(ctx, user, 'system', 'all') }
  }

  /** No scope asked: the user's default project when it is usable (Keystone's rule), else unscoped. */
  async #defaultScope(ctx: RequestContext, user: UserRow): Promise<{ scope: TokenScope; roles: TokenRole[] }> {
    const project = user.default_project_id === null ? undefined : await this.#store.getProject(ctx, user.default_project_id)
    if (project !== undefined) {
      const scoped = await this.#projectScope(ctx, user, project, false)
      if (scoped.roles.length > 0) return scoped
    }
    return { scope: { kind: 'unscoped' }, roles: [] }
  }

  async #projectScope(
    ctx: RequestContext,
    user: UserRow,
    project: ProjectRow,
    required: boolean,
  ): Promise<{ scope: TokenScope; roles: TokenRole[] }> {
    const domain = await this.#store.getDomain(ctx, project.domain_id)
    if (project.enabled !== 1 || domain === undefined || domain.enabled !== 1) {
      if (required) throw new UnauthorizedError(UNAUTHORIZED)
      return { scope: { kind: 'unscoped' }, roles: [] }
    }
    const roles = await this.#roles(ctx, user, 'project', project.id, required)
    return {
      scope: { kind: 'project', id: project.id, name: project.name, domainId: domain.id, domainName: domain.name },
      roles,
    }
  }

  /** Effective roles on a target; with `required`, none is a 401 (Keystone: no access to the scope). */
  async #roles(ctx: RequestContext, user: UserRow, type: AssignmentTarget, id: string, required = true): Promise<TokenRole[]> {
    const direct = await this.#store.rolesOn(ctx, user.id, type, id)
    if (direct.length === 0) {
      if (required) throw new UnauthorizedError(UNAUTHORIZED)
      return []
    }
    const names = withImpliedRoles(direct.map((r) => r.name))
    const byName = new Map<string, RoleRow>()
    for (const r of names.length > direct.length ? await this.#store.listRoles(ctx) : direct) byName.set(r.name, r)
    return names.flatMap((n) => {
      const r = byName.get(n)
      return r === undefined ? [] : [{ id: r.id, name: r.name }]
    })
  }

  async #project(
    ctx: RequestContext,
    p: { readonly id?: string | undefined; readonly name?: string | undefined; readonly domain?: DomainRef | undefined },
  ): Promise<ProjectRow | undefined> {
    if (p.id !== undefined) return this.#store.getProject(ctx, p.id)
    if (p.name === undefined || p.domain === undefined) {
      throw new InvalidError(`Expecting to find domain in project. ${MALFORMED}`)
    }
    const domain = await this.#domain(ctx, p.domain)
    return domain === undefined ? undefined : this.#store.findProjectByName(ctx, domain.id, p.name)
  }

  async #domain(ctx: RequestContext, ref: DomainRef): Promise<DomainRow | undefined> {
    if (ref.id !== undefined) return this.#store.getDomain(ctx, ref.id)
    if (ref.name !== undefined) return this.#store.findDomainByName(ctx, ref.name)
    throw new InvalidError('Expecting to find id or name in domain.')
  }
}

/**
 * Keystone's rule: a scope names exactly one kind. An empty scope, or one naming only keys we do not
 * know, is malformed (400); it is never read as "no scope", which would hand out the default scope.
 * Trusts are not implemented, so every trust is unknown: Keystone answers a trust it cannot find with
 * 401, and so do we, whatever the id.
 */
function checkScopeShape(request: Exclude<ScopeRequest, 'unscoped'>): void {
  const kinds = SCOPE_KEYS.filter((k) => request[k] !== undefined)
  if (kinds.length !== 1) throw new InvalidError(`Expecting to find project, domain, OS-TRUST:trust or unscoped in scope. ${MALFORMED}`)
  if (request['OS-TRUST:trust'] !== undefined) throw new UnauthorizedError(UNAUTHORIZED)
}
