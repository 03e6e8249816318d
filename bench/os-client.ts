/**
 * A minimal OpenStack client for tests and benchmarks: Keystone v3 password auth, then JSON calls to the catalog's
 * endpoints, the way python-openstackclient talks to us.
 */
export interface Session {
  readonly token: string
  readonly catalog: Array<{ type: string; endpoints: Array<{ interface: string; region: string; url: string }> }>
  readonly projectId: string
}

export async function login(identityUrl: string, user: string, password: string, project = user): Promise<Session> {
  const res = await fetch(`${identityUrl}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, password, domain: { name: 'Default' } } } },
        scope: { project: { name: project, domain: { name: 'Default' } } },
      },
    }),
  })
  if (res.status !== 201) throw new Error(`login failed: ${res.status} ${await res.text()}`)
  const body = (await res.json()) as { token: { catalog: Session['catalog']; project: { id: string } } }
  return { token: res.headers.get('x-subject-token') ?? '', catalog: body.token.catalog, projectId: body.token.project.id }
}

export function endpoint(s: Session, type: string, region: string): string {
  const svc = s.catalog.find((c) => c.type === type)
  const ep = svc?.endpoints.find((e) => e.interface === 'public' && e.region === region)
  if (ep === undefined) throw new Error(`no ${type} endpoint in ${region}`)
  return ep.url
}

export interface Reply {
  readonly status: number
  readonly body: any
  readonly headers: Headers
}

export async function call(s: Session | undefined, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(s === undefined ? {} : { 'x-auth-token': s.token }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers }
}

/** Polls `fn` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Waits until the server reaches `status` (or fails early on ERROR when that is not wanted). */
export async function waitForStatus(s: Session, computeUrl: string, id: string, status: string, timeoutMs = 30_000): Promise<any> {
  return waitFor(
    `server ${id} ${status}`,
    async () => {
      const r = await call(s, 'GET', `${computeUrl}/servers/${id}`)
      if (r.status !== 200) return undefined
      if (r.body.server.status === 'ERROR' && status !== 'ERROR') throw new Error(`server went to ERROR: ${JSON.stringify(r.body.server.fault)}`)
      return r.body.server.status === status ? r.body.server : undefined
    },
    timeoutMs,
  )
}
