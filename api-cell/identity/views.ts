import type { CatalogService } from './catalog.js'
import type { AssignmentRow, DomainRow, ProjectRow, RoleRow, UserRow } from './identity-store.js'
import type { TokenData } from './tokens.js'

/**
 * JSON representations of the identity API, in Keystone's shapes. `base` is the public URL without
 * `/v3` (e.g. `http://host:5000`); links are absolute, as Keystone renders them.
 */

/** Keystone's and Tempest's time format: `2026-01-01T12:00:00.000000Z` (microseconds, UTC). */
export function keystoneTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z')
}

/** A list's `links` block (no pagination: lists are whole). */
export function listLinks(base: string, path: string): Record<string, string | null> {
  return { self: `${base}/v3${path}`, previous: null, next: null }
}

/** `{"domain": ...}` content. */
export function renderDomain(base: string, d: DomainRow): Record<string, unknown> {
  return {
    id: d.id,
    name: d.name,
    description: d.description,
    enabled: d.enabled === 1,
    tags: [],
    options: {},
    links: { self: `${base}/v3/domains/${d.id}` },
  }
}

/** `{"project": ...}` content: extra attributes first, so core fields always win. */
export function renderProject(base: string, p: ProjectRow): Record<string, unknown> {
  const extra = parseExtra(p.extra)
  return {
    ...extra,
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: p.enabled === 1,
    parent_id: p.domain_id,
    is_domain: false,
    tags: Array.isArray(extra.tags) ? extra.tags : [],
    options: {},
    links: { self: `${base}/v3/projects/${p.id}` },
  }
}

/** `{"user": ...}` content. Never includes the password hash. */
export function renderUser(base: string, u: UserRow): Record<string, unknown> {
  return {
    ...parseExtra(u.extra),
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: u.enabled === 1,
    password_expires_at: null,
    options: {},
    ...(u.default_project_id === null ? {} : { default_project_id: u.default_project_id }),
    ...(u.description === null ? {} : { description: u.description }),
    links: { self: `${base}/v3/users/${u.id}` },
  }
}

/** `{"role": ...}` content. */
export function renderRole(base: string, r: RoleRow): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    domain_id: null,
    description: r.description,
    options: {},
    links: { self: `${base}/v3/roles/${r.id}` },
  }
}

/** Optional names for `GET /v3/role_assignments?include_names`. */
export interface AssignmentNames {
  readonly user?: string | undefined
  readonly role?: string | undefined
  readonly target?: string | undefined
}

/** One entry of `GET /v3/role_assignments`. */
export function renderAssignment(base: string, a: AssignmentRow, names?: AssignmentNames): Record<string, unknown> {
  const named = (id: string, name: string | undefined): Record<string, string> => (name === undefined ? { id } : { id, name })
  const scope =
    a.target_type === 'system'
      ? { system: { all: true } }
      : { [a.target_type]: named(a.target_id, names?.target) }
  const targetPath = a.target_type === 'system' ? '/system' : `/${a.target_type}s/${a.target_id}`
  return {
    role: named(a.role_id, names?.role),
    user: named(a.user_id, names?.user),
    scope,
    links: { assignment: `${base}/v3${targetPath}/users/${a.user_id}/roles/${a.role_id}` },
  }
}

/** What {@link renderToken} needs besides the token. */
export interface TokenViewOptions {
  /** The catalog; omitted from the body when undefined (unscoped tokens, `?nocatalog`). */
  readonly catalog?: readonly CatalogService[] | undefined
}

/** `POST`/`GET /v3/auth/tokens` body, exactly Keystone's shape for each scope. */
export function renderToken(data: TokenData, options: TokenViewOptions = {}): { token: Record<string, unknown> } {
  const token: Record<string, unknown> = {
    methods: data.methods,
    user: {
      domain: { id: data.user.domainId, name: data.user.domainName },
      id: data.user.id,
      name: data.user.name,
      password_expires_at: null,
    },
    audit_ids: data.auditIds,
    expires_at: keystoneTime(data.expiresAt),
    issued_at: keystoneTime(data.issuedAt),
  }
  const s = data.scope
  if (s.kind === 'unscoped') return { token }
  if (s.kind === 'project') {
    token.project = { domain: { id: s.domainId, name: s.domainName }, id: s.id, name: s.name }
    token.is_domain = false
  } else if (s.kind === 'domain') {
    token.domain = { id: s.id, name: s.name }
  } else {
    token.system = { all: true }
  }
  token.roles = data.roles.map((r) => ({ id: r.id, name: r.name }))
  if (options.catalog !== undefined) token.catalog = options.catalog
  return { token }
}

function parseExtra(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
