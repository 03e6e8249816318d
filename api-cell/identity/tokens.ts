import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { RequestContext } from '../../shared/context.js'
import { UnauthorizedError } from '../../shared/errors.js'
import type { RevocationEvent, RevocationStore } from './revocation-store.js'

/** The authenticated user, as carried inside a token. */
export interface TokenUser {
  readonly id: string
  readonly name: string
  readonly domainId: string
  readonly domainName: string
}

/** Kinds of token scope, after Keystone. */
export const SCOPE_KINDS = ['project', 'domain', 'system', 'unscoped'] as const
/** One of {@link SCOPE_KINDS}. */
export type ScopeKind = (typeof SCOPE_KINDS)[number]

/** What a token is good for. */
export type TokenScope =
  | {
      readonly kind: 'project'
      readonly id: string
      readonly name: string
      readonly domainId: string
      readonly domainName: string
    }
  | { readonly kind: 'domain'; readonly id: string; readonly name: string }
  | { readonly kind: 'system' }
  | { readonly kind: 'unscoped' }

/** A role granted on the scope. */
export interface TokenRole {
  readonly id: string
  readonly name: string
}

/** Everything a token says, decoded and verified. Times are epoch milliseconds. */
export interface TokenData {
  readonly user: TokenUser
  readonly scope: TokenScope
  /** Effective roles on the scope (implied roles included); empty when unscoped. */
  readonly roles: readonly TokenRole[]
  readonly methods: readonly string[]
  readonly issuedAt: number
  readonly expiresAt: number
  /** `[own audit id]`, or `[own, chain]` for a token obtained from another token (Keystone's audit_ids). */
  readonly auditIds: readonly string[]
}

/** What to put in a new token. */
export interface IssueArgs {
  readonly user: TokenUser
  readonly scope: TokenScope
  readonly roles: readonly TokenRole[]
  readonly methods: readonly string[]
  /** Rescoping: the parent token. The new one joins its audit chain and never outlives it. */
  readonly parent?: TokenData
}

/** A freshly issued token. */
export interface IssuedToken {
  /** The opaque string for `X-Subject-Token` / `X-Auth-Token`. */
  readonly token: string
  readonly data: TokenData
}

/** How the token service is built. */
export interface TokenServiceOptions {
  /** HMAC-SHA256 key, at least 32 bytes. New tokens are signed with it. */
  readonly secret: Buffer
  /** Keys still accepted for validation (rotation: move the old key here, keep it for one TTL). */
  readonly previousSecrets?: readonly Buffer[]
  /** Token lifetime; Keystone's default is one hour. */
  readonly ttlSeconds?: number
  /** Durable revocations; without it revocations live only in this process. */
  readonly revocations?: RevocationStore
  /** Epoch-ms clock (tests). */
  readonly clock?: () => number
}

const VERSION = 'v1'
const MIN_SECRET_BYTES = 32
/**
 * The only form a token takes: version, unpadded base64url payload, and the 43-character unpadded
 * base64url HMAC-SHA256 whose last character carries no stray low bits ([AEIMQUYcgkosw048]).
 */
const TOKEN_SHAPE = /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/
/** Longer strings are refused before any work (headers are limited well below this anyway). */
const MAX_TOKEN_CHARS = 8192

/**
 * Issues and validates signed, self-contained tokens: validation needs no database round trip, so the
 * compute and image listeners can check every request cheaply and in any API process.
 *
 * A token is `v1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, "v1.<payload>"))>`. The
 * payload is signed, not encrypted: it holds ids, names and roles, never secrets.
 *
 * Revocation (DELETE /v3/auth/tokens; a user disabled, deleted, its password changed or a role
 * assignment of it removed; a project disabled or deleted; a role deleted) is an in-memory
 * set consulted by {@link validate}, persisted through a {@link RevocationStore} and reloaded by
 * {@link loadRevocations} at start-up (call it again periodically when several API processes share a
 * database).
 *
 * @example
 *   const tokens = new TokenService({ secret, ttlSeconds: 3600, revocations: new KyselyRevocationStore(db) })
 *   await tokens.loadRevocations(systemContext())
 *   const { token } = tokens.issue({ user, scope, roles, methods: ['password'] })
 *   tokens.validate(token).user.name
 */
export class TokenService {
  readonly ttlMs: number
  readonly #secret: Buffer
  readonly #verifyKeys: readonly Buffer[]
  readonly #store: RevocationStore | undefined
  readonly #clock: () => number
  /** audit id -> expiry of the revocation. */
  readonly #revokedAudit = new Map<string, number>()
  /** user / project / role id -> revocation (tokens issued at or before its `revokedAt` are revoked). */
  readonly #revokedUser = new Map<string, RevocationEvent>()
  readonly #revokedProject = new Map<string, RevocationEvent>()
  readonly #revokedRole = new Map<string, RevocationEvent>()
  #generation = 0

  constructor(options: TokenServiceOptions) {
    const keys = [options.secret, ...(options.previousSecrets ?? [])]
    if (keys.some((k) => k.length < MIN_SECRET_BYTES)) {
      throw new Error(`token secrets must be at least ${MIN_SECRET_BYTES} bytes`)
    }
    const ttl = options.ttlSeconds ?? 3600
    if (!Number.isFinite(ttl) || ttl <= 0) throw new Error('token ttl must be a positive number of seconds')
    this.ttlMs = Math.round(ttl * 1000)
    this.#secret = Buffer.from(options.secret)
    this.#verifyKeys = keys.map((k) => Buffer.from(k))
    this.#store = options.revocations
    this.#clock = options.clock ?? Date.now
  }

  /**
   * Grows whenever this process learns of a new revocation. A caller that builds a token from data
   * it read (roles, enabled flags) compares it before and after the read: a change means the data may
   * predate a revocation the new token would escape, and must be read again.
   */
  get revocationGeneration(): number {
    return this.#generation
  }

  /** Signs a new token. Pure computation: no I/O. */
  issue(args: IssueArgs): IssuedToken {
    const issuedAt = this.#issueTime(args)
    let expiresAt = issuedAt + this.ttlMs
    const auditIds = [newAuditId()]
    if (args.parent !== undefined) {
      expiresAt = Math.min(expiresAt, args.parent.expiresAt)
      auditIds.push(args.parent.auditIds[args.parent.auditIds.length - 1] ?? '')
    }
    const data: TokenData = {
      user: args.user,
      scope: args.scope,
      roles: args.scope.kind === 'unscoped' ? [] : args.roles,
      methods: args.methods,
      issuedAt,
      expiresAt,
      auditIds,
    }
    const payload = Buffer.from(JSON.stringify(toPayload(data))).toString('base64url')
    const signed = `${VERSION}.${payload}`
    return { token: `${signed}.${sign(this.#secret, signed)}`, data }
  }

  /**
   * Verifies signature, expiry and revocation. Throws {@link UnauthorizedError} for any failure, with
   * the same message whatever the reason (a caller learns nothing from probing).
   */
  validate(token: string): TokenData {
    const data = this.#decode(token)
    if (data === undefined || data.expiresAt <= this.#clock() || this.isRevoked(data)) {
      throw new UnauthorizedError('The request you have made requires authentication.')
    }
    return data
  }

  /** `true` when a revocation covers `data` (in this process's view). */
  isRevoked(data: TokenData): boolean {
    if (data.auditIds.some((id) => this.#revokedAudit.has(id))) return true
    const byUser = this.#revokedUser.get(data.user.id)
    if (byUser !== undefined && data.issuedAt <= byUser.revokedAt) return true
    for (const role of data.roles) {
      const byRole = this.#revokedRole.get(role.id)
      if (byRole !== undefined && data.issuedAt <= byRole.revokedAt) return true
    }
    if (data.scope.kind !== 'project') return false
    const byProject = this.#revokedProject.get(data.scope.id)
    return byProject !== undefined && data.issuedAt <= byProject.revokedAt
  }

  /** Revokes one token and every token rescoped from it (its audit chain). */
  async revokeToken(ctx: RequestContext, data: TokenData): Promise<void> {
    const own = data.auditIds[0]
    if (own !== undefined) await this.#apply(ctx, { kind: 'audit', targetId: own, expiresAt: data.expiresAt })
  }

  /**
   * Revokes every token issued so far to `userId`: user disabled, deleted, password changed, or any of
   * its role assignments removed (its tokens carry roles it no longer holds).
   */
  async revokeUser(ctx: RequestContext, userId: string): Promise<void> {
    await this.#apply(ctx, { kind: 'user', targetId: userId, expiresAt: this.#clock() + this.ttlMs })
  }

  /** Revokes every token issued so far scoped to `projectId` (project disabled or deleted). */
  async revokeProject(ctx: RequestContext, projectId: string): Promise<void> {
    await this.#apply(ctx, { kind: 'project', targetId: projectId, expiresAt: this.#clock() + this.ttlMs })
  }

  /** Revokes every token issued so far that carries `roleId`, held directly or implied (role deleted). */
  async revokeRole(ctx: RequestContext, roleId: string): Promise<void> {
    await this.#apply(ctx, { kind: 'role', targetId: roleId, expiresAt: this.#clock() + this.ttlMs })
  }

  /**
   * Loads revocations from the store (no-op without one) and drops the expired ones from memory.
   * Idempotent; returns how many events are active.
   */
  async loadRevocations(ctx: RequestContext): Promise<number> {
    const nowMs = this.#clock()
    if (this.#store !== undefined) {
      for (const event of await this.#store.loadActive(ctx, nowMs)) this.#remember(event)
    }
    this.#prune(nowMs)
    return this.#revokedAudit.size + this.#revokedUser.size + this.#revokedProject.size + this.#revokedRole.size
  }

  async #apply(ctx: RequestContext, partial: Omit<RevocationEvent, 'revokedAt'>): Promise<void> {
    const event: RevocationEvent = { ...partial, revokedAt: this.#clock() }
    this.#remember(event)
    if (this.#store !== undefined) await this.#store.save(ctx, event)
  }

  /**
   * Now, but strictly after any user or project revocation this process knows: a token issued in
   * the same millisecond as a revocation (re-login right after a password change) must stay valid.
   */
  #issueTime(args: IssueArgs): number {
    let t = this.#clock()
    const byUser = this.#revokedUser.get(args.user.id)
    if (byUser !== undefined) t = Math.max(t, byUser.revokedAt + 1)
    const byProject = args.scope.kind === 'project' ? this.#revokedProject.get(args.scope.id) : undefined
    if (byProject !== undefined) t = Math.max(t, byProject.revokedAt + 1)
    for (const role of args.roles) {
      const byRole = this.#revokedRole.get(role.id)
      if (byRole !== undefined) t = Math.max(t, byRole.revokedAt + 1)
    }
    return t
  }

  #remember(event: RevocationEvent): void {
    if (event.kind === 'audit') {
      const known = this.#revokedAudit.get(event.targetId)
      if (known === undefined) this.#generation += 1
      this.#revokedAudit.set(event.targetId, Math.max(event.expiresAt, known ?? 0))
      return
    }
    const map = event.kind === 'user' ? this.#revokedUser : event.kind === 'role' ? this.#revokedRole : this.#revokedProject
    const known = map.get(event.targetId)
    if (known === undefined || known.revokedAt < event.revokedAt) {
      map.set(event.targetId, event)
      this.#generation += 1
    }
  }

  #prune(nowMs: number): void {
    for (const [id, expiresAt] of this.#revokedAudit) if (expiresAt <= nowMs) this.#revokedAudit.delete(id)
    for (const map of [this.#revokedUser, this.#revokedProject, this.#revokedRole]) {
      for (const [id, event] of map) if (event.expiresAt <= nowMs) map.delete(id)
    }
  }

  #decode(token: string): TokenData | undefined {
    // Only the exact string we issued is a token. Base64 decoders are lenient (they skip padding,
    // whitespace and stray characters and ignore the unused low bits of the last character), so the
    // signature is compared as text, after a strict check of the whole shape: two different strings
    // never both validate, whatever bytes they decode to.
    if (token.length > MAX_TOKEN_CHARS || !TOKEN_SHAPE.test(token)) return undefined
    const dot = token.lastIndexOf('.')
    const signed = token.slice(0, dot)
    const given = Buffer.from(token.slice(dot + 1), 'latin1')
    const valid = this.#verifyKeys.some((key) => {
      const expected = Buffer.from(sign(key, signed), 'latin1')
      return expected.length === given.length && timingSafeEqual(expected, given)
    })
    if (!valid) return undefined
    try {
      return fromPayload(JSON.parse(Buffer.from(signed.slice(VERSION.length + 1), 'base64url').toString('utf8')))
    } catch {
      return undefined
    }
  }
}

/** A new audit id in Keystone's form: 16 random bytes, URL-safe base64 without padding (22 chars). */
export function newAuditId(): string {
  return randomBytes(16).toString('base64url')
}

function sign(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url')
}

/** Compact wire form: short keys keep tokens small enough for one header line. */
interface Payload {
  u: [string, string, string, string]
  s: ['p', string, string, string, string] | ['d', string, string] | ['s'] | ['u']
  r: [string, string][]
  m: string[]
  i: number
  e: number
  a: string[]
}

function toPayload(d: TokenData): Payload {
  const s = d.scope
  return {
    u: [d.user.id, d.user.name, d.user.domainId, d.user.domainName],
    s:
      s.kind === 'project'
        ? ['p', s.id, s.name, s.domainId, s.domainName]
        : s.kind === 'domain'
          ? ['d', s.id, s.name]
          : s.kind === 'system'
            ? ['s']
            : ['u'],
    r: d.roles.map((r) => [r.id, r.name]),
    m: [...d.methods],
    i: d.issuedAt,
    e: d.expiresAt,
    a: [...d.auditIds],
  }
}

// The payload was signed by us, so its shape is trusted; the checks only guard against a key reused
// across incompatible versions.
function fromPayload(p: Payload): TokenData | undefined {
  if (!Array.isArray(p.u) || !Array.isArray(p.s) || typeof p.i !== 'number' || typeof p.e !== 'number') return undefined
  const [id, name, domainId, domainName] = p.u
  const s = p.s
  const scope: TokenScope =
    s[0] === 'p'
      ? { kind: 'project', id: s[1], name: s[2], domainId: s[3], domainName: s[4] }
      : s[0] === 'd'
        ? { kind: 'domain', id: s[1], name: s[2] }
        : s[0] === 's'
          ? { kind: 'system' }
          : { kind: 'unscoped' }
  return {
    user: { id, name, domainId, domainName },
    scope,
    roles: p.r.map(([rid, rname]) => ({ id: rid, name: rname })),
    methods: p.m,
    issuedAt: p.i,
    expiresAt: p.e,
    auditIds: p.a,
  }
}
