/**
 * Boot latency through the whole stack, as a user sees it: `POST /servers` to `ACTIVE` (polled every
 * millisecond on `GET /servers/{id}`), in embedded mode (one process, SQLite, in-process bus) and in
 * production mode (separate processes, MariaDB, RabbitMQ), plus the throughput of concurrent boots.
 */
import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedFederation } from '../bin/embedded.js'
import { deleteVhost } from '../shared/bus/amqp-admin.js'
import { federationConfig } from '../shared/config/federation.js'
import { dropMysqlSchema } from '../shared/db/database.js'
import { createLogger } from '../shared/logging.js'
import { packageRoot } from '../shared/paths.js'

type Figures = Record<string, number | string>

export interface Api {
  token: string
  compute: string
  imageRef: string
}

export async function login(identity: string, image: string, compute: string, password: string): Promise<Api> {
  const res = await fetch(`${identity}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'admin', password, domain: { id: 'default' } } } },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    }),
  })
  const token = res.headers.get('x-subject-token') ?? ''
  const body = (await res.json()) as { token: { project: { id: string } } }
  const imgs = (await (await fetch(`${image}/v2/images?name=cirros`, { headers: { 'x-auth-token': token } })).json()) as { images: Array<{ id: string }> }
  // No quota gets in the way of the benchmark.
  const quota = await fetch(`${compute}/os-quota-sets/${body.token.project.id}`, {
    method: 'PUT',
    headers: { 'x-auth-token': token, 'content-type': 'application/json' },
    body: JSON.stringify({ quota_set: { instances: -1, cores: -1, ram: -1 } }),
  })
  if (quota.status !== 200) throw new Error(`quota update failed: ${quota.status} ${await quota.text()}`)
  await quota.text()
  return { token, compute, imageRef: imgs.images[0]?.id ?? '' }
}

async function bootOne(api: Api, name: string): Promise<{ postMs: number; activeMs: number; id: string }> {
  const t0 = performance.now()
  const res = await retryOnReset(() => fetch(`${api.compute}/servers`, {
    method: 'POST',
    headers: { 'x-auth-token': api.token, 'content-type': 'application/json' },
    body: JSON.stringify({ server: { name, imageRef: api.imageRef, flavorRef: '1' } }),
  }), name)
  const postMs = performance.now() - t0
  if (res.status !== 202) throw new Error(`boot failed: ${res.status} ${await res.text()}`)
  const id = ((await res.json()) as { server: { id: string } }).server.id
  for (;;) {
    const r = (await (await fetch(`${api.compute}/servers/${id}`, { headers: { 'x-auth-token': api.token } })).json()) as { server?: { status: string } }
    if (r.server?.status === 'ACTIVE') return { postMs, activeMs: performance.now() - t0, id }
    if (r.server?.status === 'ERROR') throw new Error(`server ${id} went to ERROR`)
    if (performance.now() - t0 > 60_000) throw new Error(`server ${id} not ACTIVE after 60 s`)
    await new Promise((r2) => setTimeout(r2, 1))
  }
}

async function retryOnReset<T>(fn: () => Promise<T>, what: string): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    process.stderr.write(`${what}: ${String((err as { cause?: unknown }).cause ?? err)}\n`)
    throw err
  }
}

async function measure(api: Api, label: string, sequential: number, concurrent: number): Promise<Figures> {
  const post: number[] = []
  const active: number[] = []
  const ids: string[] = []
  for (let i = 0; i < 3; i += 1) ids.push((await bootOne(api, `warm-${i}`)).id)
  for (let i = 0; i < sequential; i += 1) {
    const r = await bootOne(api, `seq-${i}`)
    post.push(r.postMs)
    active.push(r.activeMs)
    ids.push(r.id)
  }
  const t0 = performance.now()
  const many = await Promise.all(Array.from({ length: concurrent }, (_, i) => bootOne(api, `par-${i}`)))
  const wall = performance.now() - t0
  ids.push(...many.map((m) => m.id))
  await Promise.all(ids.map((id) => fetch(`${api.compute}/servers/${id}`, { method: 'DELETE', headers: { 'x-auth-token': api.token } })))
  const q = (xs: number[], p: number): number => {
    const s = [...xs].sort((a, b) => a - b)
    return Math.round((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0) * 100) / 100
  }
  return {
    [`${label}.boots`]: sequential,
    [`${label}.post.p50Ms`]: q(post, 0.5),
    [`${label}.postToActive.p50Ms`]: q(active, 0.5),
    [`${label}.postToActive.p99Ms`]: q(active, 0.99),
    [`${label}.concurrent.boots`]: concurrent,
    [`${label}.concurrent.bootsPerSecond`]: Math.round((concurrent / wall) * 1000 * 10) / 10,
    [`${label}.concurrent.postToActive.p99Ms`]: q(
      many.map((m) => m.activeMs),
      0.99,
    ),
  }
}

async function embedded(): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-boot-'))
  process.env['ADMIN_PASSWORD'] = 'bench-pw'
  process.env['LOG_LEVEL'] ??= 'silent'
  const cfg = federationConfig('embedded', { 'state-dir': dir, 'identity-port': '0', 'compute-port': '0', 'image-port': '0' })
  const fed = await startEmbeddedFederation(cfg, createLogger('bench'))
  try {
    const api = await login(fed.api.urls.identity, fed.api.urls.image, `${fed.api.urls.compute}/v2.1`, 'bench-pw')
    return { 'embedded.driver': fed.driver, ...(await measure(api, 'embedded', 50, 50)) }
  } finally {
    await fed.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function production(): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-prod-'))
  const prefix = `fedbench_${Math.random().toString(36).slice(2, 8)}`
  // Below the kernel's ephemeral range (32768+), where outgoing connections would collide.
  const base = 20000 + Math.floor(Math.random() * 12000)
  const child = spawn(
    process.execPath,
    [
      join(packageRoot(), 'dist', 'bin', 'production.js'),
      '--state-dir', join(dir, 'state'),
      '--name-prefix', prefix,
      '--identity-port', String(base),
      '--compute-port', String(base + 1),
      '--image-port', String(base + 2),
      '--network-port', String(base + 3),
      '--grpc-base-port', String(base + 10),
    ],
    { env: { ...process.env, ADMIN_PASSWORD: 'bench-pw', LOG_LEVEL: process.env['BENCH_CHILD_LOG'] ?? 'warn' }, stdio: ['ignore', 'inherit', 'inherit'] },
  )
  const identity = `http://127.0.0.1:${base}`
  try {
    const end = Date.now() + 90_000
    for (;;) {
      try {
        if ((await fetch(`${identity}/v3`)).status === 200) break
      } catch {
        // starting
      }
      if (Date.now() > end) throw new Error('production federation did not start')
      await new Promise((r) => setTimeout(r, 250))
    }
    const api = await login(identity, `http://127.0.0.1:${base + 2}`, `http://127.0.0.1:${base + 1}/v2.1`, 'bench-pw')
    return await measure(api, 'production', 30, 30)
  } finally {
    const exited = new Promise<void>((r) => child.once('exit', () => r()))
    child.kill('SIGTERM')
    await exited
    const schemas = execFileSync('mysql', ['-h127.0.0.1', '-uroot', '-N', '-e', `SHOW DATABASES LIKE '${prefix}\\_%'`], { encoding: 'utf8' })
    for (const s of schemas.split('\n').filter((x) => x !== '')) await dropMysqlSchema(`mysql://root@127.0.0.1:3306/${s}`)
    const vhosts = execFileSync('rabbitmqctl', ['-q', 'list_vhosts'], { encoding: 'utf8' })
    for (const v of vhosts.split('\n').filter((x) => x.startsWith(`${prefix}.`))) await deleteVhost(v)
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Boot latency in both modes. */
export async function benchBoot(): Promise<Figures> {
  return process.env['BENCH_BOOT_ONLY'] === 'production' ? production() : { ...(await embedded()), ...(await production()) }
}
