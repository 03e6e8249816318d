import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { startEmbeddedFederation } from '../bin/embedded.js'
import { federationConfig } from '../shared/config/federation.js'
import { createLogger } from '../shared/logging.js'
import { login } from './boot-bench.js'
import { startTcpProxy } from './fault-proxy.js'

type Figures = Record<string, number | string>

const REGION = 'api!region-two'
const ROUNDS = 3
/** The anti-entropy period the bench runs with (the default is 60 s: drift lasts one period at most). */
const ANTI_ENTROPY_MS = 5000

/**
 * How fast the federation notices and heals, with the default report interval (2.5 s) and down
 * threshold (10 s), in an embedded federation whose region two sits behind a TCP proxy:
 * - `detect.*`: from the link hanging (every reply swallowed) to the API cell calling the region
 *   down, and from the link coming back to the region up again;
 * - `readWhileDown.*`: `GET /servers/{id}` of a server in the down region (answered from the index);
 * - `events.*`: from `os-stop` answered to the index row showing it (versioned events upward);
 * - `antiEntropy.*`: from an index row corrupted at the top to it being repaired, with a pass every
 *   5 s. Milliseconds.
 */
export async function benchDetection(): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'detect-bench-'))
  process.env['ADMIN_PASSWORD'] = 'bench-pw'
  process.env['FEDERATION_ANTI_ENTROPY_INTERVAL_MS'] = String(ANTI_ENTROPY_MS)
  const cfg = federationConfig('embedded', { 'state-dir': dir, 'identity-port': '0', 'compute-port': '0', 'image-port': '0' })
  delete process.env['FEDERATION_ANTI_ENTROPY_INTERVAL_MS']
  const fed = await startEmbeddedFederation(cfg, createLogger('bench'))
  const tree = fed.api.tree
  const db = fed.api.db
  const row = await db.selectFrom('cells').select('grpc_address').where('path', '=', REGION).executeTakeFirstOrThrow()
  const [host, port] = (row.grpc_address ?? '').split(':')
  const proxy = await startTcpProxy({ host: host ?? '127.0.0.1', port: Number(port) })
  try {
    await db.updateTable('cells').set({ grpc_address: proxy.address }).where('path', '=', REGION).execute()
    await tree.refreshChildren()
    await until(() => proxy.stats.relayed > 0 && !tree.isDown(REGION), 30_000)
    const regionTwo = `${fed.api.urls.compute}/regions/region-two/v2.1`
    const api = await login(fed.api.urls.identity, fed.api.urls.image, regionTwo, 'bench-pw')
    const headers = { 'x-auth-token': api.token, 'content-type': 'application/json' }
    const created = (await (await fetch(`${regionTwo}/servers`, { method: 'POST', headers, body: JSON.stringify({ server: { name: 'detect', imageRef: api.imageRef, flavorRef: '1' } }) })).json()) as { server: { id: string } }
    const id = created.server.id
    await until(async () => (await indexRow(id))?.vm_state === 'active', 30_000)

    const toDown: number[] = []
    const toUp: number[] = []
    const reads: number[] = []
    for (let i = 0; i < ROUNDS; i++) {
      proxy.mode = 'drop-replies'
      let t0 = performance.now()
      await until(() => tree.isDown(REGION), 60_000)
      toDown.push(performance.now() - t0)
      for (let r = 0; r < 10; r++) {
        const t = performance.now()
        await (await fetch(`${regionTwo}/servers/${id}`, { headers })).text()
        reads.push(performance.now() - t)
      }
      proxy.cut()
      proxy.mode = 'pass'
      t0 = performance.now()
      await until(() => !tree.isDown(REGION), 60_000)
      toUp.push(performance.now() - t0)
    }

    const eventLag: number[] = []
    for (const [action, state] of [['os-stop', 'stopped'], ['os-start', 'active'], ['os-stop', 'stopped'], ['os-start', 'active']] as const) {
      const res = await fetch(`${regionTwo}/servers/${id}/action`, { method: 'POST', headers, body: JSON.stringify({ [action]: null }) })
      await res.text()
      const t0 = performance.now()
      await until(async () => (await indexRow(id))?.vm_state === state && (await indexRow(id))?.task_state === null, 30_000)
      eventLag.push(performance.now() - t0)
    }

    const repair: number[] = []
    for (let i = 0; i < 2; i++) {
      await db.updateTable('instance_index').set({ vm_state: 'error', version: 0 }).where('uuid', '=', id).execute()
      const t0 = performance.now()
      await until(async () => (await indexRow(id))?.vm_state === 'active', 3 * ANTI_ENTROPY_MS + 10_000)
      repair.push(performance.now() - t0)
    }
    return {
      'detect.downAfterMs': cfg.timing.downAfterMs,
      'detect.reportIntervalMs': cfg.timing.reportIntervalMs,
      ...stats('detect.toDown', toDown),
      ...stats('detect.toUp', toUp),
      ...stats('readWhileDown', reads),
      ...stats('events.toIndex', eventLag),
      'antiEntropy.intervalMs': ANTI_ENTROPY_MS,
      ...stats('antiEntropy.toRepair', repair),
    }
  } finally {
    await fed.stop()
    await proxy.close()
    rmSync(dir, { recursive: true, force: true })
  }

  async function indexRow(id: string) {
    return db.selectFrom('instance_index').select(['vm_state', 'task_state']).where('uuid', '=', id).executeTakeFirst()
  }
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs
  while (!(await cond())) {
    if (performance.now() > end) throw new Error('benchmark condition not reached in time')
    await sleep(20)
  }
}

function stats(name: string, samples: readonly number[]): Figures {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10
  return { [`${name}.p50Ms`]: at(0.5), [`${name}.maxMs`]: at(1), [`${name}.n`]: sorted.length }
}
