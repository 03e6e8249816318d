import { expect } from 'vitest'
import type { Census, Federation } from '../../bench/exactly-once.js'
import { acceptedIds, bootBurst, census } from '../../bench/exactly-once.js'
import { call } from './os-client.js'

/**
 * Issue #9's exactly-once checks over a production federation, shared by the fault suites: the
 * burst, settle and census live in bench/exactly-once.ts (the fault benchmark times the same
 * scenarios); these are the assertions on them.
 */
export type { Census, Federation } from '../../bench/exactly-once.js'
export { DEPLOY_LEAVES, leafInstances, mysql, settle, slug } from '../../bench/exactly-once.js'

/** POSTs `n` boots at once to the global endpoint; the accepted ones' ids (a refusal must be 503). */
export async function burst(f: Federation, name: string, n: number): Promise<string[]> {
  const replies = await bootBurst(f, name, n)
  for (const r of replies) expect([202, 503], JSON.stringify(r.body)).toContain(r.status)
  return acceptedIds(replies)
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
