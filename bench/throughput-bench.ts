/**
 * `npm run bench -- throughput`: issue #12's table, measured by its method: through the public API
 * with a token, `OpenStack-API-Version: compute 2.73`, m1.tiny, `networks: none`, a client polling
 * `GET /servers/detail?name=…` every 250 ms. In embedded mode (one process) and production mode
 * (bench/production-rig.ts: separate processes, MariaDB, RabbitMQ), with the floors of the same run
 * (floors.ts) and each latency's ratio to its floor. `BENCH_THROUGHPUT_ONLY=embedded|production`
 * runs one mode.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { startEmbeddedFederation } from '../bin/embedded.js'
import { federationConfig } from '../shared/config/federation.js'
import { createLogger } from '../shared/logging.js'
import { packageRoot } from '../shared/paths.js'
import { measureFloors, quantile } from './floors.js'
import type { Floors } from './floors.js'
import { login } from './os-client.js'
import { startProduction } from './production-rig.js'

type Figures = Record<string, number | string>

/** How much a run does: `full` is the table, `tiny` the smoke run of the tests. */
export interface ThroughputSize {
  readonly multiA: number
  readonly multiB: number
  readonly sequential: number
  /** Single boots timed by the 250 ms poller (after the listings). */
  readonly polled: number
  /** Listings of each kind (`/servers/detail`, `/servers`). */
  readonly lists: number
  /** Calls per floor. */
  readonly floorCalls: number
  /** Poll interval of the client, ms (the 250). */
  readonly pollMs: number
}

/** The table: 50 + 50 + 100 = 200 servers, then 200 (and the polled ones) deleted. */
export const FULL: ThroughputSize = { multiA: 50, multiB: 100, sequential: 50, polled: 10, lists: 50, floorCalls: 1000, pollMs: 250 }
/** A smoke run: every step, a handful of servers. */
export const TINY: ThroughputSize = { multiA: 2, multiB: 3, sequential: 2, polled: 1, lists: 3, floorCalls: 20, pollMs: 50 }

interface Client {
  readonly compute: string
  readonly headers: Record<string, string>
  readonly imageRef: string
  readonly flavorRef: string
}

async function connect(identity: string, computeUrl: string, password: string): Promise<Client> {
  const s = await login(identity, 'admin', password)
  const headers = { 'x-auth-token': s.token, 'content-type': 'application/json', 'openstack-api-version': 'compute 2.73' }
  const get = async (url: string): Promise<any> => {
    const r = await fetch(url, { headers })
    if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`)
    return r.json()
  }
  const image = s.catalog.find((c) => c.type === 'image')?.endpoints.find((e) => e.interface === 'public')?.url ?? ''
  const imgs = (await get(`${image}/v2/images?name=cirros`)) as { images: Array<{ id: string }> }
  const flavors = (await get(`${computeUrl}/flavors`)) as { flavors: Array<{ id: string; name: string }> }
  const quota = await fetch(`${computeUrl}/os-quota-sets/${s.projectId}`, { method: 'PUT', headers, body: JSON.stringify({ quota_set: { instances: -1, cores: -1, ram: -1 } }) })
  if (quota.status !== 200) throw new Error(`quota update failed: ${quota.status} ${await quota.text()}`)
  await quota.text()
  return { compute: computeUrl, headers, imageRef: imgs.images[0]?.id ?? '', flavorRef: flavors.flavors.find((f) => f.name === 'm1.tiny')?.id ?? '1' }
}

async function post(c: Client, name: string, count: number): Promise<string> {
  const server = { name, imageRef: c.imageRef, flavorRef: c.flavorRef, networks: 'none', ...(count > 1 ? { min_count: count, max_count: count } : {}) }
  const r = await fetch(`${c.compute}/servers`, { method: 'POST', headers: c.headers, body: JSON.stringify({ server }) })
  if (r.status !== 202) throw new Error(`POST /servers ${name}: ${r.status} ${await r.text()}`)
  return ((await r.json()) as { server: { id: string } }).server.id
}

/** Servers whose name matches `pattern`, by status (the poller's one request). */
async function statuses(c: Client, pattern: string): Promise<Array<{ id: string; status: string }>> {
  const r = await fetch(`${c.compute}/servers/detail?name=${encodeURIComponent(pattern)}&limit=1000`, { headers: c.headers })
  if (r.status !== 200) throw new Error(`GET /servers/detail: ${r.status} ${await r.text()}`)
  return ((await r.json()) as { servers: Array<{ id: string; status: string }> }).servers
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls every `pollMs` until `count` servers matching `pattern` are ACTIVE; the time since `t0`. */
async function untilActive(c: Client, pattern: string, count: number, t0: number, pollMs: number): Promise<{ ms: number; ids: string[] }> {
  for (;;) {
    const s = await statuses(c, pattern)
    const bad = s.find((x) => x.status === 'ERROR')
    if (bad !== undefined) throw new Error(`server ${bad.id} went to ERROR`)
    const active = s.filter((x) => x.status === 'ACTIVE')
    if (active.length >= count) return { ms: performance.now() - t0, ids: active.map((x) => x.id) }
    if (performance.now() - t0 > 300_000) throw new Error(`${pattern}: ${active.length}/${count} ACTIVE after 300 s`)
    await sleep(pollMs)
  }
}

const perSecond = (n: number, ms: number): number => Math.round((n / ms) * 1000 * 10) / 10

/** The issue's table against one running federation; `rss` reads its processes' memory. */
async function scenario(label: string, c: Client, size: ThroughputSize, rss: () => Figures): Promise<Figures> {
  const out: Figures = {}
  const ids: string[] = []
  const multi = async (n: number, name: string): Promise<void> => {
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    await post(c, name, n)
    const r = await untilActive(c, `^${name}-`, n, t0, size.pollMs)
    const cpu = process.cpuUsage(cpu0)
    ids.push(...r.ids)
    out[`${label}.multi${n}.serversPerSecond`] = perSecond(n, r.ms)
    // In-process federation: the CPU it spent per server (far less at the mercy of the machine's load than time).
    if (label === 'embedded') out[`${label}.multi${n}.cpuMsPerServer`] = Math.round(((cpu.user + cpu.system) / 1000 / n) * 100) / 100
  }
  await multi(size.multiA, 'tpa')
  // One server at a time: the POST's answer, and POST -> ACTIVE seen on GET /servers/{id} every ms.
  const postMs: number[] = []
  const activeMs: number[] = []
  for (let i = 0; i < size.sequential; i += 1) {
    const t0 = performance.now()
    const id = await post(c, `tps-${i}`, 1)
    postMs.push(performance.now() - t0)
    ids.push(id)
    for (;;) {
      const r = (await (await fetch(`${c.compute}/servers/${id}`, { headers: c.headers })).json()) as { server?: { status: string } }
      if (r.server?.status === 'ACTIVE') break
      if (r.server?.status === 'ERROR') throw new Error(`server ${id} went to ERROR`)
      await sleep(1)
    }
    activeMs.push(performance.now() - t0)
  }
  out[`${label}.sequential.post.p50Ms`] = quantile(postMs, 0.5)
  out[`${label}.single.postToActive.p50Ms`] = quantile(activeMs, 0.5)
  await multi(size.multiB, 'tpb')
  out[`${label}.servers`] = ids.length
  for (const [key, path] of [['listDetail', '/servers/detail'], ['list', '/servers']] as const) {
    const xs: number[] = []
    let seen = 0
    for (let i = 0; i < size.lists; i += 1) {
      const t0 = performance.now()
      const r = await fetch(`${c.compute}${path}`, { headers: c.headers })
      seen = ((await r.json()) as { servers: unknown[] }).servers.length
      xs.push(performance.now() - t0)
    }
    out[`${label}.${key}.p50Ms`] = quantile(xs, 0.5)
    out[`${label}.${key}.servers`] = seen
  }
  // One server at a time as the client sees it: the 250 ms poller on /servers/detail?name=.
  const polled: number[] = []
  for (let i = 0; i < size.polled; i += 1) {
    const t0 = performance.now()
    ids.push(await post(c, `tpp-${i}`, 1))
    polled.push((await untilActive(c, `^tpp-${i}$`, 1, t0, size.pollMs)).ms)
  }
  out[`${label}.single.postToActive.polled.p50Ms`] = quantile(polled, 0.5)
  Object.assign(out, prefixed(`${label}.rss.loaded`, rss()))
  const t0 = performance.now()
  const delMs: number[] = []
  for (const id of ids) {
    const t = performance.now()
    const r = await fetch(`${c.compute}/servers/${id}`, { method: 'DELETE', headers: c.headers })
    if (r.status !== 204) throw new Error(`DELETE ${id}: ${r.status} ${await r.text()}`)
    delMs.push(performance.now() - t)
  }
  for (;;) {
    const left = await statuses(c, '^tp[abps]')
    if (left.length === 0) break
    if (performance.now() - t0 > 300_000) throw new Error(`${left.length} servers left 300 s after their DELETE`)
    await sleep(size.pollMs)
  }
  out[`${label}.delete.count`] = ids.length
  out[`${label}.delete.serversPerSecond`] = perSecond(ids.length, performance.now() - t0)
  out[`${label}.delete.answer.p50Ms`] = quantile(delMs, 0.5)
  Object.assign(out, prefixed(`${label}.rss.after`, rss()))
  return out
}

function prefixed(prefix: string, f: Figures): Figures {
  return Object.fromEntries(Object.entries(f).map(([k, v]) => [`${prefix}.${k}`, v]))
}

/** Each latency's ratio to the floor it cannot go below (a commit for a write, a link call for a boot). */
function ratios(label: string, f: Figures, floors: Floors): Figures {
  const commit = floors['sqlite.commit.p50Ms'] ?? floors['mysql.commit.p50Ms'] ?? Number.NaN
  const bus = floors['memory.call.p50Ms'] ?? floors['amqp.call.p50Ms'] ?? Number.NaN
  const grpc = floors['grpc.call.p50Ms'] ?? Number.NaN
  // A boot crosses the API's commit, one gRPC hop per level (two: region, leaf), the leaf's bus
  // to scheduler, conductor and compute (three calls) and its commits (two).
  const boot = commit * 3 + grpc * 2 + bus * 3
  const r = (k: string, floor: number): [string, number] => [`${label}.ratio.${k}`, Math.round((Number(f[`${label}.${k}`]) / floor) * 10) / 10]
  const perServer = (k: string): [string, number] => [`${label}.ratio.${k}`, Math.round((1000 / Number(f[`${label}.${k}`]) / boot) * 100) / 100]
  return Object.fromEntries([
    [`${label}.floor.bootMs`, Math.round(boot * 1000) / 1000],
    r('sequential.post.p50Ms', commit),
    r('single.postToActive.p50Ms', boot),
    r('listDetail.p50Ms', commit),
    r('list.p50Ms', commit),
    ...Object.keys(f)
      .filter((k) => k.endsWith('.serversPerSecond'))
      .map((k) => perServer(k.slice(label.length + 1))),
  ])
}

function processRss(): Figures {
  return { 'process.MB': Math.round(process.memoryUsage().rss / 2 ** 20) }
}

/** `BENCH_THROUGHPUT_WORKERS`: API worker processes (`--workers`), default 1. */
function apiWorkers(): number {
  const n = Number(process.env['BENCH_THROUGHPUT_WORKERS'] ?? '1')
  return Number.isInteger(n) && n >= 1 ? n : 1
}

/**
 * Embedded mode: one process (API, every cell, SQLite, in-process bus, gRPC between cells); with
 * `workers` > 1, `npm start -- --workers N` in a child process (cells in the primary, the API in
 * N workers).
 */
export async function throughputEmbedded(size: ThroughputSize, workers = 1): Promise<Figures> {
  if (workers > 1) return embeddedWorkers(size, workers)
  const dir = mkdtempSync(join(tmpdir(), 'bench-throughput-'))
  process.env['ADMIN_PASSWORD'] = 'bench-pw'
  process.env['LOG_LEVEL'] ??= 'silent'
  const cfg = federationConfig('embedded', { 'state-dir': join(dir, 'state'), 'identity-port': '0', 'compute-port': '0', 'image-port': '0' })
  const fed = await startEmbeddedFederation(cfg, createLogger('bench'))
  const loop = monitorEventLoopDelay({ resolution: 10 })
  try {
    const floors = await measureFloors('embedded', dir, size.floorCalls)
    const c = await connect(fed.api.urls.identity, `${fed.api.urls.compute}/v2.1`, 'bench-pw')
    const before = prefixed('embedded.rss.start', processRss())
    loop.enable()
    const f = await scenario('embedded', c, size, processRss)
    loop.disable()
    return {
      'embedded.driver': fed.driver,
      ...prefixed('embedded.floor', floors),
      ...before,
      ...f,
      ...ratios('embedded', f, floors),
      'embedded.eventLoopDelay.p50Ms': Math.round(loop.percentile(50) / 1e4) / 100,
      'embedded.eventLoopDelay.p99Ms': Math.round(loop.percentile(99) / 1e4) / 100,
      'embedded.eventLoopDelay.maxMs': Math.round(loop.max / 1e4) / 100,
    }
  } finally {
    await fed.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `npm start -- --workers N` as a child process, measured like the in-process federation. */
async function embeddedWorkers(size: ThroughputSize, workers: number): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-throughput-'))
  const prefix = `throughput_${Math.random().toString(36).slice(2, 8)}`
  const base = 20000 + Math.floor(Math.random() * 12000)
  const child = spawn(
    process.execPath,
    [join(packageRoot(), 'dist', 'bin', 'federation.js'), '--workers', String(workers), '--state-dir', join(dir, 'state'), '--name-prefix', prefix,
      '--identity-port', String(base), '--compute-port', String(base + 1), '--image-port', String(base + 2), '--network-port', String(base + 3)],
    { env: { ...process.env, ADMIN_PASSWORD: 'bench-pw', LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const label = `embedded.workers${workers}`
  try {
    const identity = `http://127.0.0.1:${base}`
    const end = Date.now() + 300_000
    for (;;) {
      if (child.exitCode !== null) throw new Error('npm start --workers exited')
      if (await fetch(`${identity}/v3`).then((r) => r.status === 200, () => false)) break
      if (Date.now() > end) throw new Error('npm start --workers did not start')
      await sleep(250)
    }
    const floors = await measureFloors('embedded', dir, size.floorCalls)
    const c = await connect(identity, `http://127.0.0.1:${base + 1}/v2.1`, 'bench-pw')
    const rss = (): Figures => productionRss(prefix, child.pid, 'cells')
    const before = prefixed(`${label}.rss.start`, rss())
    const f = await scenario(label, c, size, rss)
    return { ...prefixed(`${label}.floor`, floors), ...before, ...f, ...ratios(label, f, floors) }
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
}

/** RSS of every process of the federation `prefix`, summed per role (`primaryRole`: the process `supervisorPid`), in MB. */
function productionRss(prefix: string, supervisorPid: number | undefined, primaryRole = 'supervisor'): Figures {
  const ps = execFileSync('ps', ['-eo', 'pid=,rss=,args='], { encoding: 'utf8' })
  const out: Record<string, number> = {}
  let total = 0
  for (const line of ps.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line)
    if (m === null || !m[3]?.includes(`--name-prefix ${prefix}`)) continue
    const mb = Number(m[2]) / 1024
    const role = Number(m[1]) === supervisorPid ? primaryRole : (/--role (\S+)/.exec(m[3])?.[1] ?? (m[3].includes('api-cell') || m[3].includes('federation.js') ? 'api' : 'other'))
    out[role] = (out[role] ?? 0) + mb
    out[`${role}.processes`] = (out[`${role}.processes`] ?? 0) + 1
    total += mb
  }
  return { ...Object.fromEntries(Object.entries(out).map(([k, v]) => [k.endsWith('.processes') ? k : `${k}.MB`, Math.round(v)])), 'total.MB': Math.round(total) }
}

/** Production mode: deploy/regions as separate processes over MariaDB and RabbitMQ. */
export async function throughputProduction(size: ThroughputSize, workers = 1): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-throughput-prod-'))
  const fed = await startProduction({ ...(workers > 1 ? { args: ['--workers', String(workers)] } : {}), namePrefix: 'throughput' })
  try {
    const floors = await measureFloors('production', dir, size.floorCalls)
    const c = await connect(fed.identityUrl, fed.computeUrl, 'secret-admin-pw')
    const rss = (): Figures => productionRss(fed.prefix, fed.supervisor.pid)
    const label = workers > 1 ? `production.workers${workers}` : 'production'
    const before = prefixed(`${label}.rss.start`, rss())
    const f = await scenario(label, c, size, rss)
    return { ...prefixed(`${label}.floor`, floors), ...before, ...f, ...ratios(label, f, floors) }
  } finally {
    await fed.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Both modes at the size (or the one `BENCH_THROUGHPUT_ONLY` names). */
export async function benchThroughput(size: ThroughputSize = FULL): Promise<Figures> {
  const only = process.env['BENCH_THROUGHPUT_ONLY']
  return {
    ...(only === 'production' ? {} : await throughputEmbedded(size, apiWorkers())),
    ...(only === 'embedded' ? {} : await throughputProduction(size, apiWorkers())),
  }
}
