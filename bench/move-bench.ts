/**
 * Moves within a cell as a user sees them, in embedded mode (one process, SQLite, in-process bus,
 * libvirt's test driver when it loads): from the action's POST to the status the move ends in,
 * polled every millisecond on `GET /servers/{id}`: resize to VERIFY_RESIZE, confirm to ACTIVE,
 * cold migration to VERIFY_RESIZE, live migration to ACTIVE on another host.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedFederation } from '../bin/embedded.js'
import { federationConfig } from '../shared/config/federation.js'
import { createLogger } from '../shared/logging.js'
import type { Api } from './boot-bench.js'
import { login } from './boot-bench.js'

type Figures = Record<string, number | string>

const headers = (api: Api): Record<string, string> => ({ 'x-auth-token': api.token, 'content-type': 'application/json', 'OpenStack-API-Version': 'compute 2.30' })

async function server(api: Api, id: string): Promise<{ status: string; host: string }> {
  const r = (await (await fetch(`${api.compute}/servers/${id}`, { headers: headers(api) })).json()) as { server: { status: string; 'OS-EXT-SRV-ATTR:host': string } }
  return { status: r.server.status, host: r.server['OS-EXT-SRV-ATTR:host'] }
}

/** POSTs `body` as an action and polls until `done` holds; the milliseconds it took. */
async function timed(api: Api, id: string, body: unknown, done: (s: { status: string; host: string }) => boolean): Promise<number> {
  const t0 = performance.now()
  const res = await fetch(`${api.compute}/servers/${id}/action`, { method: 'POST', headers: headers(api), body: JSON.stringify(body) })
  if (res.status >= 300) throw new Error(`${JSON.stringify(body)}: ${res.status} ${await res.text()}`)
  await res.text()
  for (;;) {
    const s = await server(api, id)
    if (done(s)) return performance.now() - t0
    if (s.status === 'ERROR') throw new Error(`server ${id} went to ERROR`)
    if (performance.now() - t0 > 60_000) throw new Error(`server ${id}: ${JSON.stringify(body)} not done after 60 s`)
    await new Promise((r) => setTimeout(r, 1))
  }
}

async function boot(api: Api, name: string): Promise<string> {
  const res = await fetch(`${api.compute}/servers`, { method: 'POST', headers: headers(api), body: JSON.stringify({ server: { name, imageRef: api.imageRef, flavorRef: '1' } }) })
  const id = ((await res.json()) as { server: { id: string } }).server.id
  for (;;) {
    if ((await server(api, id)).status === 'ACTIVE') return id
    await new Promise((r) => setTimeout(r, 5))
  }
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0) * 100) / 100
}

/** `rounds` servers, each resized and confirmed, cold-migrated and confirmed, then live-migrated. */
export async function benchMove(rounds = 20): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-move-'))
  process.env['ADMIN_PASSWORD'] = 'bench-pw'
  process.env['LOG_LEVEL'] ??= 'silent'
  const cfg = federationConfig('embedded', { 'state-dir': dir, 'identity-port': '0', 'compute-port': '0', 'image-port': '0' })
  const fed = await startEmbeddedFederation(cfg, createLogger('bench'))
  const runs: Record<'resize' | 'confirm' | 'migrate' | 'live', number[]> = { resize: [], confirm: [], migrate: [], live: [] }
  try {
    const api = await login(fed.api.urls.identity, fed.api.urls.image, `${fed.api.urls.compute}/regions/region-two/v2.1`, 'bench-pw')
    for (let i = 0; i < rounds; i += 1) {
      const id = await boot(api, `move-${i}`)
      runs.resize.push(await timed(api, id, { resize: { flavorRef: '2' } }, (s) => s.status === 'VERIFY_RESIZE'))
      runs.confirm.push(await timed(api, id, { confirmResize: null }, (s) => s.status === 'ACTIVE'))
      runs.migrate.push(await timed(api, id, { migrate: null }, (s) => s.status === 'VERIFY_RESIZE'))
      await timed(api, id, { confirmResize: null }, (s) => s.status === 'ACTIVE')
      const from = (await server(api, id)).host
      runs.live.push(await timed(api, id, { 'os-migrateLive': { host: null, block_migration: 'auto' } }, (s) => s.status === 'ACTIVE' && s.host !== from))
      await fetch(`${api.compute}/servers/${id}`, { method: 'DELETE', headers: headers(api) })
    }
    const out: Figures = { 'embedded.driver': fed.driver, rounds }
    for (const [name, xs] of Object.entries(runs)) {
      out[`${name}.p50Ms`] = q(xs, 0.5)
      out[`${name}.p99Ms`] = q(xs, 0.99)
    }
    return out
  } finally {
    await fed.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
