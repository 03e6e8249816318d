import { AppError } from '../../shared/errors.js'
import type { CloudSettings } from './cloud-config.js'

/** A failed operation: `cellctl` prints the message on one line and exits with 1. */
export class OperationError extends AppError {
  constructor(message: string, status = 500) {
    super({ code: 'operation_failed', status, message })
  }
}

interface CatalogEntry {
  readonly type: string
  readonly endpoints: ReadonlyArray<{ readonly interface: string; readonly region?: string; readonly region_id?: string; readonly url: string }>
}

/** The admin API's root, from a compute endpoint of the catalog (`.../regions/r1/v2.1[/project]`). */
export function adminRootOf(computeUrl: string): string {
  const trimmed = computeUrl.replace(/\/+$/, '').replace(/\/v2(\.1)?(\/[^/]+)?$/, '').replace(/\/regions\/[^/]+$/, '')
  return `${trimmed}/cell-admin/v1`
}

/** The best compute endpoint: the wanted interface and region first, then any. */
export function pickComputeEndpoint(catalog: readonly CatalogEntry[], iface: string, region: string | undefined): string | undefined {
  const eps = catalog.filter((c) => c.type === 'compute').flatMap((c) => c.endpoints)
  const regionOf = (e: CatalogEntry['endpoints'][number]): string | undefined => e.region_id ?? e.region
  const ranked = [
    ...eps.filter((e) => e.interface === iface && (region === undefined || regionOf(e) === region)),
    ...eps.filter((e) => e.interface === iface),
    ...eps.filter((e) => e.interface === 'public'),
    ...eps,
  ]
  return ranked[0]?.url
}

/** One line out of an error body in any of the shapes OpenStack services answer with. */
export function errorMessageOf(body: unknown, fallback: string): string {
  const b = body as Record<string, unknown> | null
  const inner = (b?.['error'] ?? (b !== null && typeof b === 'object' ? Object.values(b)[0] : undefined)) as { message?: unknown } | undefined
  const message = typeof inner?.message === 'string' ? inner.message : fallback
  return message.replace(/\s+/g, ' ').trim()
}

const reach = (url: string, err: unknown): OperationError => {
  const cause = (err as { cause?: { message?: unknown; code?: unknown } } | null)?.cause
  const why = typeof cause?.message === 'string' ? cause.message : err instanceof Error ? err.message : String(err)
  return new OperationError(`cannot reach ${new URL(url).origin}: ${why}`, 503)
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text()
  try {
    return text === '' ? undefined : JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * The cell administration API as `cellctl` sees it: a Keystone v3 password login (the token and
 * the catalog), then JSON calls to the admin API at the root of the catalog's compute endpoint.
 */
export class AdminClient {
  readonly root: string
  readonly #token: string

  private constructor(root: string, token: string) {
    this.root = root
    this.#token = token
  }

  /** Logs in and finds the admin API. Failures are {@link OperationError}s with one-line messages. */
  static async connect(s: CloudSettings): Promise<AdminClient> {
    const base = s.authUrl.replace(/\/+$/, '')
    const url = `${/\/v3$/.test(base) ? base : `${base}/v3`}/auth/tokens`
    const domain = (name: string | undefined, id: string | undefined): Record<string, string> => (id !== undefined ? { id } : { name: name ?? 'Default' })
    const scope =
      s.projectId !== undefined
        ? { project: { id: s.projectId } }
        : { project: { name: s.projectName, domain: domain(s.projectDomainName, s.projectDomainId) } }
    let res: Response
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: { methods: ['password'], password: { user: { name: s.username, password: s.password, domain: domain(s.userDomainName, s.userDomainId) } } },
            scope,
          },
        }),
      })
    } catch (err) {
      throw reach(url, err)
    }
    const body = (await readJson(res)) as { token?: { catalog?: CatalogEntry[] } } | undefined
    if (res.status !== 201) {
      throw new OperationError(`authentication failed (${s.source}): ${errorMessageOf(body, res.statusText)} (HTTP ${res.status})`, res.status)
    }
    const token = res.headers.get('x-subject-token') ?? ''
    const compute = pickComputeEndpoint(body?.token?.catalog ?? [], s.interface ?? 'admin', s.regionName)
    if (compute === undefined) throw new OperationError('the service catalog has no compute endpoint', 404)
    return new AdminClient(adminRootOf(compute), token)
  }

  /** One call; an error status becomes an {@link OperationError} naming status and request id. */
  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const url = `${this.root}${path}`
    let res: Response
    try {
      res = await fetch(url, {
        method,
        headers: { 'x-auth-token': this.#token, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    } catch (err) {
      throw reach(url, err)
    }
    const parsed = await readJson(res)
    if (res.status >= 400) {
      const rid = res.headers.get('x-openstack-request-id')
      throw new OperationError(`${errorMessageOf(parsed, res.statusText)} (HTTP ${res.status}${rid === null ? '' : `, request ${rid}`})`, res.status)
    }
    return parsed as T
  }
}

/** A path segment: cell paths keep their `!` (it is legal in a URL path). */
export const seg = (s: string): string => encodeURIComponent(s)
