/**
 * `npm run bench -- listing [--servers N] [--leaves L]` (defaults 100,000 and 20): issue #12's
 * listing at scale. An embedded federation of L leaf cells (bench-tree.ts) is filled with N
 * servers by the bulk path (listing-fill.ts), then listed through the public API over real HTTP
 * (token, `OpenStack-API-Version: compute 2.73`): `/servers/detail?limit=1000` paged with markers
 * to the end, `/servers?limit=1000` likewise, and the filters `name`, `status`, `changes-since`,
 * `all_tenants=1&project_id=`. Figures per page of 1,000, in ms.
 */
import { performance } from 'node:perf_hooks'
import { quantile } from './floors.js'
import { startBenchTree, wideTree } from './bench-tree.js'
import { fillServers } from './listing-fill.js'
import { login } from './os-client.js'

type Figures = Record<string, number | string>

/** How big a listing run is. */
export interface ListingSize {
  readonly servers: number
  readonly leaves: number
  /** Page size (`limit`). */
  readonly limit: number
  /** Repeats of each single-page figure (first page, filters). */
  readonly repeat: number
}

/** The issue's size. */
export const LISTING_FULL: ListingSize = { servers: 100_000, leaves: 20, limit: 1000, repeat: 20 }
/** The smoke run of the tests. */
export const LISTING_TINY: ListingSize = { servers: 200, leaves: 3, limit: 50, repeat: 2 }

/** Reads `--servers N` and `--leaves L` from argv (after the scenario name). */
export function listingSizeFromArgs(argv: readonly string[]): ListingSize {
  const num = (flag: string, dflt: number): number => {
    const i = argv.indexOf(flag)
    if (i < 0) return dflt
    const n = Number(argv[i + 1])
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`)
    return n
  }
  return { ...LISTING_FULL, servers: num('--servers', LISTING_FULL.servers), leaves: num('--leaves', LISTING_FULL.leaves) }
}

/** What paging through one listing saw. */
export interface Paged {
  readonly pages: number
  readonly ids: string[]
  readonly pageMs: number[]
  /** Every page but the last named the next one's marker (its last server). */
  readonly chained: boolean
  /** CPU time of this process (the whole embedded federation and the client) per page, ms. */
  readonly cpuMsPerPage: number
}

interface Server {
  id: string
  status?: string
}

/** Follows `servers_links` from `firstUrl` to the end, timing each page. */
async function pageAll(firstUrl: string, headers: Record<string, string>): Promise<Paged> {
  let url: string | undefined = firstUrl
  const ids: string[] = []
  const pageMs: number[] = []
  let chained = true
  const cpu0 = process.cpuUsage()
  while (url !== undefined) {
    const t0 = performance.now()
    const r = await fetch(url, { headers })
    const text = await r.text()
    pageMs.push(performance.now() - t0)
    if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${text}`)
    const body = JSON.parse(text) as { servers: Server[]; servers_links?: Array<{ rel: string; href: string }> }
    ids.push(...body.servers.map((s) => s.id))
    const next = body.servers_links?.find((l) => l.rel === 'next')?.href
    if (next !== undefined && new URL(next).searchParams.get('marker') !== body.servers.at(-1)?.id) chained = false
    url = next
  }
  const cpu = process.cpuUsage(cpu0)
  return { pages: pageMs.length, ids, pageMs, chained, cpuMsPerPage: (cpu.user + cpu.system) / 1000 / pageMs.length }
}

const r2 = (n: number): number => Math.round(n * 100) / 100

/** Runs the listing scenario at `size`; `onPaged` sees each full paging (the smoke test checks them). */
export async function benchListing(size: ListingSize = LISTING_FULL, onPaged?: (key: string, p: Paged, expected: number) => void): Promise<Figures> {
  const tree = await startBenchTree('listing', wideTree(size.leaves))
  try {
    const api = tree.fed.api
    const s = await login(api.urls.identity, 'admin', tree.password)
    const compute = `${api.urls.compute}/v2.1`
    const headers = { 'x-auth-token': s.token, 'openstack-api-version': 'compute 2.73' }
    const user = await api.db.selectFrom('users').select('id').where('name', '=', 'admin').executeTakeFirstOrThrow()
    const image = await api.db.selectFrom('images').select('id').where('name', '=', 'cirros').executeTakeFirstOrThrow()
    const t0 = performance.now()
    const filled = await fillServers({ cfg: tree.cfg, api: api.db, servers: size.servers, projectId: s.projectId, userId: user.id, imageRef: image.id })
    const out: Figures = { servers: size.servers, leaves: size.leaves, pageSize: size.limit, 'fill.seconds': Math.round((performance.now() - t0) / 100) / 10 }
    const n = size.servers
    for (const [key, path] of [['detail', '/servers/detail'], ['list', '/servers']] as const) {
      const p = await pageAll(`${compute}${path}?limit=${size.limit}`, headers)
      onPaged?.(key, p, n)
      out[`${key}.pages`] = p.pages
      out[`${key}.listed`] = p.ids.length
      out[`${key}.page.p50Ms`] = r2(quantile(p.pageMs, 0.5))
      out[`${key}.page.p95Ms`] = r2(quantile(p.pageMs, 0.95))
      out[`${key}.page.maxMs`] = r2(Math.max(...p.pageMs))
      // Less at the mercy of the machine's other work than the latencies.
      out[`${key}.page.cpuMs`] = r2(p.cpuMsPerPage)
      const first: number[] = []
      for (let i = 0; i < size.repeat; i += 1) {
        const t = performance.now()
        const r = await fetch(`${compute}${path}?limit=${size.limit}`, { headers })
        await r.text()
        first.push(performance.now() - t)
      }
      out[`${key}.firstPage.p50Ms`] = r2(quantile(first, 0.5))
    }
    // Filters, on /servers/detail: the first page of each, then paging it to the end.
    const since = new Date(filled.createdFrom - 1000).toISOString()
    const filters: Record<string, [string, number]> = {
      name: [`name=${encodeURIComponent('lst-4')}`, countNames(n, 'lst-4')],
      nameExact: [`name=${encodeURIComponent(`^lst-${Math.floor(n / 2)}$`)}`, 1],
      statusActive: ['status=ACTIVE', n - filled.errors],
      statusError: ['status=ERROR', filled.errors],
      changesSince: [`changes-since=${encodeURIComponent(since)}`, n],
      allTenantsProject: [`all_tenants=1&project_id=${s.projectId}`, n],
    }
    for (const [key, [query, expected]] of Object.entries(filters)) {
      const first: number[] = []
      for (let i = 0; i < size.repeat; i += 1) {
        const t = performance.now()
        const r = await fetch(`${compute}/servers/detail?limit=${size.limit}&${query}`, { headers })
        await r.text()
        if (r.status !== 200) throw new Error(`filter ${key}: ${r.status}`)
        first.push(performance.now() - t)
      }
      out[`filter.${key}.firstPage.p50Ms`] = r2(quantile(first, 0.5))
      const p = await pageAll(`${compute}/servers/detail?limit=${size.limit}&${query}`, headers)
      onPaged?.(`filter.${key}`, p, expected)
      out[`filter.${key}.listed`] = p.ids.length
      out[`filter.${key}.page.p50Ms`] = r2(quantile(p.pageMs, 0.5))
      out[`filter.${key}.page.p95Ms`] = r2(quantile(p.pageMs, 0.95))
      out[`filter.${key}.page.cpuMs`] = r2(p.cpuMsPerPage)
    }
    return out
  } finally {
    await tree.close()
  }
}

/** How many of `lst-0`..`lst-(n-1)` contain `needle`. */
function countNames(n: number, needle: string): number {
  let c = 0
  for (let i = 0; i < n; i += 1) if (`lst-${i}`.includes(needle)) c += 1
  return c
}
