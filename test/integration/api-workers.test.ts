import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../../shared/paths.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { ProductionFederation } from '../helpers/production.js'
import { startProduction } from '../helpers/production.js'

/** One HTTP request on `agent` (one kept-alive connection per agent). */
function send(agent: Agent, url: string, method: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body)
    const headers = { 'x-auth-token': token, 'openstack-api-version': 'compute 2.73', ...(data === undefined ? {} : { 'content-type': 'application/json' }) }
    const req = request(url, { method, agent, headers }, (res) => {
      let text = ''
      res.on('data', (b: Buffer) => (text += b.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end(data)
  })
}

/** The pids holding established server-side connections on `port` (ss). */
function serverPids(port: number): Set<number> {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' })
  return new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))
}

/** The pids of the processes whose command line contains `part`. */
function pidsOf(part: string): number[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(part))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
}

/**
 * With `--workers 2` the API is a primary and two worker processes (same command line); once
 * both serve, connections spread over both, each answers, and the builds accepted by either are
 * placed (the second worker forwards its builds to the first, which dispatches).
 */
async function checkTwoWorkers(identityUrl: string, password: string, apiPids: () => number[]): Promise<void> {
  const admin = await login(identityUrl, 'admin', password, 'admin')
  const compute = endpoint(admin, 'compute', 'federation')
  const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id as string
  expect(apiPids()).toHaveLength(3)
  const port = Number(new URL(compute).port)
  // Workers start one after the other: wait until connections reach both.
  const agents = await waitFor(
    'connections held by both API workers',
    async () => {
      const fresh = Array.from({ length: 6 }, () => new Agent({ keepAlive: true, maxSockets: 1 }))
      const lists = await Promise.all(fresh.map((a) => send(a, `${compute}/servers`, 'GET', admin.token)))
      expect(lists.map((r) => r.status)).toEqual(fresh.map(() => 200))
      const owners = serverPids(port)
      const api = new Set(apiPids())
      expect([...owners].every((p) => api.has(p))).toBe(true)
      if (owners.size === 2) return fresh
      for (const a of fresh) a.destroy()
      return undefined
    },
    120_000,
  )
  try {
    const posts = await Promise.all(
      agents.map((a, i) => send(a, `${compute}/servers`, 'POST', admin.token, { server: { name: `workers-${i}`, imageRef, flavorRef: '1', networks: 'none' } })),
    )
    expect(posts.map((r) => r.status)).toEqual(agents.map(() => 202))
    for (const p of posts) await waitForStatus(admin, compute, p.body.server.id as string, 'ACTIVE', 60_000)
    for (const p of posts) expect((await call(admin, 'DELETE', `${compute}/servers/${p.body.server.id as string}`)).status).toBe(204)
  } finally {
    for (const a of agents) a.destroy()
  }
}

describe('API workers, production mode (--workers 2)', () => {
  let fed: ProductionFederation

  beforeAll(async () => {
    fed = await startProduction({ args: ['--workers', '2'], namePrefix: 'throughput' })
  }, 180_000)

  afterAll(async () => {
    await fed?.stop()
  }, 60_000)

  it('spreads connections over two workers and places builds accepted by either', async () => {
    await checkTwoWorkers(fed.identityUrl, 'secret-admin-pw', () => fed.pids('api-cell/main.js'))
  }, 240_000)
})

describe('API workers, embedded mode (npm start -- --workers 2)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'throughput-workers-'))
  const base = 20000 + Math.floor(Math.random() * 12000)
  let child: ChildProcess

  beforeAll(async () => {
    child = spawn(
      process.execPath,
      [join(packageRoot(), 'dist', 'bin', 'federation.js'), '--workers', '2', '--state-dir', join(dir, 'state'), '--identity-port', String(base), '--compute-port', String(base + 1), '--image-port', String(base + 2), '--network-port', String(base + 3)],
      { env: { ...process.env, ADMIN_PASSWORD: 'workers-pw', LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] },
    )
    await waitFor('npm start --workers 2', async () => ((await fetch(`http://127.0.0.1:${base}/v3`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0)) === 200 ? true : undefined), 150_000)
  }, 180_000)

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  it('keeps the cells in the primary, spreads connections over two workers and places builds accepted by either', async () => {
    await checkTwoWorkers(`http://127.0.0.1:${base}`, 'workers-pw', () => pidsOf(`--state-dir ${join(dir, 'state')}`))
  }, 240_000)
})
