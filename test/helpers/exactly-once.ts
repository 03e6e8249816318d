import { execFileSync } from 'node:child_process'
import { expect } from 'vitest'
import type { Session } from './os-client.js'
import { call, waitFor } from './os-client.js'

/**
 * Issue #9's exactly-once checks over a production federation, shared by the fault suites: fire a
 * burst of boots, let it settle, then compare what the API shows with the leaves' own databases
 * (the truth about instances).
 */

/** Runs one query as the test machine's MariaDB administrator (root ns), tab-separated rows. */
export const mysql = (q: string): string => execFileSync('mysql', ['-h127.0.0.1', '-uroot', '-N', '-e', q], { encoding: 'utf8' })

/** A cell path as its schema name's suffix (cellEndpoints in shared/config/federation.ts). */
export const slug = (path: string): string => path.replace(/!/g, '__').replace(/-/g, '_')

/** The leaf cells of deploy/regions. */
export const DEPLOY_LEAVES = ['api!region-one!dc1', 'api!region-one!dc2', 'api!region-two'] as const

/** What the checks need to know about the federation under test. */
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

/** Live instances per leaf, from the leaves' own databases. */
export function leafInstances(f: Federation): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const leaf of f.leaves) {
    const rows = mysql(`SELECT uuid FROM \`${f.prefix}_${slug(leaf)}\`.instances WHERE deleted = 0`)
    out.set(leaf, rows.split('\n').filter((l) => l.trim() !== ''))
  }
  return out
}

/** POSTs `n` boots at once to the global endpoint; the accepted ones' ids (a refusal must be 503). */
export async function burst(f: Federation, name: string, n: number): Promise<string[]> {
  const replies = await Promise.all(
    Array.from({ length: n }, (_, i) => call(f.admin, 'POST', `${f.computeUrl}/servers`, { server: { name: `${name}-${i}`, imageRef: f.imageRef, flavorRef: '1' } })),
  )
  for (const r of replies) expect([202, 503], JSON.stringify(r.body)).toContain(r.status)
  return replies.filter((r) => r.status === 202).map((r) => r.body.server.id as string)
}

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
 * The invariants of the issue, once a burst has settled: every accepted build is ACTIVE, or ERROR
 * with a reason; none lives in two leaves at any time; after convergence (a copy in a leaf of a
 * server the API shows as ERROR must go: the mapped copy wins) none is leaked or lost; and the
 * listing (the index) shows each with the status the leaves say. Returns the final census.
 */
export async function checkInvariants(f: Federation, accepted: readonly string[], servers: Map<string, any>, convergeMs = 120_000): Promise<Census> {
  for (const id of accepted) {
    const s = servers.get(id)
    if (s?.status === 'ERROR') expect(s.fault?.message, `server ${id} in ERROR without a reason`).toMatch(/\S/)
  }
  let last = census(f, accepted, servers)
  const end = Date.now() + convergeMs
  for (;;) {
    expect(last.duplicated, `servers in two leaves: ${JSON.stringify(last)}`).toBe(0)
    if ((last.leaked === 0 && last.lost === 0) || Date.now() > end) break
    await new Promise((r) => setTimeout(r, 250))
    last = census(f, accepted, servers)
  }
  expect(last).toMatchObject({ accepted: accepted.length, duplicated: 0, leaked: 0, lost: 0 })
  expect(last.active + last.error).toBe(accepted.length)
  // The index converges on the leaves: the listing shows each accepted server with its status.
  const listed = await call(f.admin, 'GET', `${f.computeUrl}/servers/detail?all_tenants=1`)
  const byId = new Map<string, any>(listed.body.servers.map((s: any) => [s.id, s]))
  for (const id of accepted) expect(byId.get(id)?.status, id).toBe(servers.get(id).status)
  return last
}

/** One line per fault for the test log: the figures the closing table asks for. */
export function reportCensus(fault: string, c: Census): void {
  process.stdout.write(`fault ${fault}: accepted ${c.accepted}, ACTIVE ${c.active}, ERROR ${c.error}, duplicated ${c.duplicated}, leaked ${c.leaked}, lost ${c.lost}\n`)
}
