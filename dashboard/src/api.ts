/**
 * The dashboard's only way to the federation: the public identity API (log in, under /identity on
 * the same listener) and the compute and cell administration APIs, with the Keystone token the
 * login returned, exactly as any other client calls them.
 */

/** A logged-in user: the token and what Keystone said about it. */
export interface Session {
  readonly token: string
  readonly user: string
  readonly project: string
  readonly roles: readonly string[]
  readonly expiresAt: string
}

/** An API answered with an error status; `message` is the API's own (Keystone or Nova shape). */
export class ApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
  }
}

const KEY = 'federation-dashboard-session'

/** The session kept for this browser tab (sessionStorage: gone when the tab closes). */
export function savedSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY)
    if (raw === null) return null
    const s = JSON.parse(raw) as Session
    return Date.parse(s.expiresAt) > Date.now() ? s : null
  } catch {
    return null
  }
}

/** Keeps (or forgets, with null) the tab's session. */
export function saveSession(s: Session | null): void {
  if (s === null) sessionStorage.removeItem(KEY)
  else sessionStorage.setItem(KEY, JSON.stringify(s))
}

/** Whether the session's token holds the `admin` role (what the cell administration API requires). */
export const isAdmin = (s: Session): boolean => s.roles.includes('admin')

async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`
  try {
    const body = (await res.json()) as Record<string, { message?: unknown } | undefined>
    const inner = Object.values(body)[0]
    if (inner !== undefined && typeof inner.message === 'string') message = inner.message
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message)
}

/** Password login, project-scoped (POST /v3/auth/tokens), as `openstack token issue` does. */
export async function login(args: { user: string; password: string; project: string; domain: string }): Promise<Session> {
  const domain = { name: args.domain }
  const res = await fetch('/identity/v3/auth/tokens', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: args.user, domain, password: args.password } } },
        scope: { project: { name: args.project, domain } },
      },
    }),
  })
  if (!res.ok) throw await errorOf(res)
  const token = res.headers.get('X-Subject-Token')
  if (token === null) throw new ApiError(res.status, 'The identity API answered without a token.')
  const body = (await res.json()) as { token: { expires_at: string; roles?: Array<{ name: string }>; project?: { name: string }; user: { name: string } } }
  return {
    token,
    user: body.token.user.name,
    project: body.token.project?.name ?? args.project,
    roles: (body.token.roles ?? []).map((r) => r.name),
    expiresAt: body.token.expires_at,
  }
}

/** Listeners told when a call finds the token no longer valid (401). */
const expiredListeners = new Set<() => void>()
/** Calls `fn` when the session's token is refused; returns the way to stop. */
export function onExpired(fn: () => void): () => void {
  expiredListeners.add(fn)
  return () => expiredListeners.delete(fn)
}

/** One JSON call to an API path on this origin (`/cell-admin/v1/...`, `/v2.1/...`). */
export async function call<T>(s: Session, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'X-Auth-Token': s.token, Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  if (res.status === 401) for (const fn of expiredListeners) fn()
  if (!res.ok) throw await errorOf(res)
  return (await res.json()) as T
}

/** The cell administration API's root. */
export const ADMIN = '/cell-admin/v1'

/** A cell path as a URL segment (`!` is legal in a path; anything else is encoded). */
export const cellSegment = (path: string): string => encodeURIComponent(path).replace(/%21/g, '!')
