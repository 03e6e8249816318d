import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import type { Reply, Session } from './os-client.js'
import { call, waitFor } from './os-client.js'

/**
 * Issue #9's exactly-once census over a production federation, shared by the fault tests
 * (test/helpers/exactly-once.ts asserts on it) and `npm run bench -- faults` (which times it): fire
 * a burst of boots, let it settle, then compare what the API shows with the leaves' own databases
 * (the truth about instances).
 */

/** Runs one query as the test machine's MariaDB administrator (root ns), tab-separated rows. */
export const mysql = (q: string): string => execFileSync('mysql', ['-h127.0.0.1', '-uroot', '-N', '-e', q], { encoding: 'utf8' })

/**
 * {@link mysql} without blocking the event loop: for polls that run while a burst's requests are in
 * flight (a blocked loop delays their writes onto keep-alive sockets the server may close meanwhile).
 */
export const mysqlAsync = async (q: string): Promise<string> =>
  (await promisify(execFile)('mysql', ['-h127.0.0.1', '-uroot', '-N', '-e', q], { encoding: 'utf8' })).stdout

/** A cell path as its schema name's suffix (cellEndpoints in shared/config/federation.ts). */
export const slug = (path: string): string => path.replace(/!/g, '__').replace(/-/g, '_')

/** The leaf cells of deploy/regions. */
export const DEPLOY_LEAVES = ['api!region-one!dc1', 'api!region-one!dc2', 'api!region-two'] as const

/** What the census needs to know about the federation under test. */
export interface Federation {
  readonly admin: Session
  /** The global compute endpoint (`.../v2.1`). */
  readonly computeUrl: string
  readonly imageRef: string
  /** Schema prefix (`--name-prefix`). */
  readonly prefix: string
  readonly leaves: readonly string[]
}

/** How a burst ended, counted against the leaves. */
export interface Census {
  readonly accepted: number
  readonly active: number
  readonly error: number
  /** Live in two leaves or more. */
  readonly duplicated: number
  /** Live in a leaf while the API shows it as ERROR or not at all. */
  readonly leaked: number
  /** Accepted, but gone from the API, or shown ACTIVE with no leaf holding it. */
  readonly lost: number
}

/** Live instances per leaf (uuid -> vm_state), from the leaves' own databases. */
export function leafStates(f: Federation): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>()
  for (const leaf of f.leaves) {
    const rows = mysql(`SELECT uuid, vm_state FROM \`${f.prefix}_${slug(leaf)}\`.instances WHERE deleted = 0`)
    const m = new Map<string, string>()
    for (const l of rows.split('\n').filter((x) => x.trim() !== '')) {
      const [uuid, state] = l.split('\t')
      m.set(uuid ?? '', (state ?? '').trim())
    }
    out.set(leaf, m)
  }
  return out
}

/** Live instances per leaf, from the leaves' own databases. */
export function leafInstances(f: Federation): Map<string, string[]> {
  return new Map([...leafStates(f)].map(([leaf, m]) => [leaf, [...m.keys()]]))
}

/** POSTs `n` boots at once to the global endpoint; every reply (the caller checks their statuses). */
export async function bootBurst(f: Federation, name: string, n: number): Promise<Reply[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => call(f.admin, 'POST', `${f.computeUrl}/servers`, { server: { name: `${name}-${i}`, imageRef: f.imageRef, flavorRef: '1' } })),
  )
}

/** The accepted boots' server ids. */
export const acceptedIds = (replies: readonly Reply[]): string[] => replies.filter((r) => r.status === 202).map((r) => r.body.server.id as string)

/** Waits until every server is ACTIVE or ERROR (no task in progress); returns them by id. */
export async function settle(f: Federation, ids: readonly string[], timeoutMs = 180_000): Promise<Map<string, any>> {
  const out = new Map<string, any>()
  await waitFor(
    `${ids.length} builds to settle`,
    async () => {
      for (const id of ids) {
        if (out.has(id)) continue
        const r = await call(f.admin, 'GET', `${f.computeUrl}/servers/${id}`)
        const s = r.body?.server
        if (r.status === 200 && (s.status === 'ACTIVE' || s.status === 'ERROR') && s['OS-EXT-STS:task_state'] === null) out.set(id, s)
      }
      return out.size === ids.length ? true : undefined
    },
    timeoutMs,
  )
  return out
}

/** Counts the accepted builds now, against the leaves (`servers`: the settled API view). */
export function census(f: Federation, accepted: readonly string[], servers: ReadonlyMap<string, any>): Census {
  const where = new Map<string, string[]>()
  for (const [leaf, uuids] of leafInstances(f)) for (const u of uuids) where.set(u, [...(where.get(u) ?? []), leaf])
  let active = 0
  let error = 0
  let duplicated = 0
  let leaked = 0
  let lost = 0
  for (const id of accepted) {
    const shown = servers.get(id)?.status as string | undefined
    const cells = where.get(id) ?? []
    if (shown === 'ACTIVE') active += 1
    if (shown === 'ERROR') error += 1
    if (cells.length > 1) duplicated += 1
    if ((shown === 'ERROR' || shown === undefined) && cells.length > 0) leaked += 1
    if (shown === undefined || (shown === 'ACTIVE' && cells.length === 0)) lost += 1
  }
  return { accepted: accepted.length, active, error, duplicated, leaked, lost }
}

/**
 * One look at convergence: every accepted build settled in the listing (the index: ACTIVE or ERROR,
 * no task) and the index equal to the leaves (ACTIVE = live in exactly one leaf, active there;
 * ERROR = live in no leaf). Returns the census of the listing when converged, else undefined.
 */
export async function convergedNow(f: Federation, accepted: readonly string[]): Promise<Census | undefined> {
  const listed = await call(f.admin, 'GET', `${f.computeUrl}/servers/detail?all_tenants=1`)
  if (listed.status !== 200) return undefined
  const byId = new Map<string, any>(listed.body.servers.map((s: any) => [s.id, s]))
  for (const id of accepted) {
    const s = byId.get(id)
    if (s === undefined || (s.status !== 'ACTIVE' && s.status !== 'ERROR') || s['OS-EXT-STS:task_state'] !== null) return undefined
  }
  const where = new Map<string, string[]>()
  for (const m of leafStates(f).values()) for (const [u, state] of m) where.set(u, [...(where.get(u) ?? []), state])
  for (const id of accepted) {
    const states = where.get(id) ?? []
    const ok = byId.get(id).status === 'ACTIVE' ? states.length === 1 && states[0] === 'active' : states.length === 0
    if (!ok) return undefined
  }
  return census(f, accepted, byId)
}

/** How many builds of the burst `name` (servers `name-N`) each leaf holds, deleted or not. */
export async function burstInLeaves(f: Federation, name: string): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const leaf of f.leaves) {
    const rows = await mysqlAsync(`SELECT uuid FROM \`${f.prefix}_${slug(leaf)}\`.instances WHERE name LIKE '${name}-%'`)
    out.set(leaf, rows.split('\n').filter((l) => l.trim() !== '').length)
  }
  return out
}
