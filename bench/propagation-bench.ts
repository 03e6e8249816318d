/**
 * `npm run bench -- propagation`: issue #12's capacity propagation. An embedded federation with
 * a three-level tree (API -> region `prop` -> intermediate `mid` -> leaf `leaf`, two hosts); each
 * change is a boot or a delete of an m1.tiny server on the leaf, timed from the request until the
 * API cell's capacity view (`GET /cell-admin/v1/capacity?flavor=m1.tiny`, built from the cells'
 * capacity reports, what the API's scheduler ranks on) shows the leaf's new figure. The report
 * interval stays at its default (2 s): what is measured is the event path, not the timer.
 * `/os-hypervisors/detail` is not what is timed: it reads the leaves live.
 */
import { performance } from 'node:perf_hooks'
import { bigHost, startBenchTree } from './bench-tree.js'
import { quantile } from './floors.js'
import { login } from './os-client.js'

type Figures = Record<string, number | string>

/** The three-level tree: the leaf is three hops below the API cell. */
export const PROPAGATION_TREE = [
  {
    name: 'prop',
    availability_zone: 'prop-az',
    children: [{ name: 'mid', children: [{ name: 'leaf', availability_zone: 'leaf-az', hosts: [bigHost('p-leaf-c1'), bigHost('p-leaf-c2')] }] }],
  },
]
/** The leaf's cell path. */
export const PROPAGATION_LEAF = 'api!prop!mid!leaf'

/** One change as the bench saw it. */
export interface Change {
  readonly kind: 'boot' | 'delete'
  readonly before: number
  readonly after: number
  readonly ms: number
}

/**
 * Runs `pairs` boots, each followed by its delete (2 x `pairs` changes: 20 by default), and reports
 * p50/p95/max of each kind; `onChange` sees each one (the smoke test checks them).
 */
export async function benchPropagation(pairs = 10, onChange?: (c: Change) => void): Promise<Figures> {
  const tree = await startBenchTree('propagation', PROPAGATION_TREE)
  try {
    const api = tree.fed.api
    const s = await login(api.urls.identity, 'admin', tree.password)
    const compute = `${api.urls.compute}/v2.1`
    const headers = { 'x-auth-token': s.token, 'openstack-api-version': 'compute 2.73', 'content-type': 'application/json' }
    const image = await api.db.selectFrom('images').select('id').where('name', '=', 'cirros').executeTakeFirstOrThrow()
    const fits = async (): Promise<number | undefined> => {
      const r = await fetch(`${api.urls.compute}/cell-admin/v1/capacity?flavor=m1.tiny`, { headers })
      if (r.status !== 200) throw new Error(`capacity view: ${r.status} ${await r.text()}`)
      const body = (await r.json()) as { cells: Array<{ path: string; fits: Record<string, number> }> }
      return body.cells.find((c) => c.path === PROPAGATION_LEAF)?.fits['m1.tiny']
    }
    const until = async (what: string, ok: (n: number | undefined) => boolean, t0: number): Promise<number> => {
      for (;;) {
        const n = await fits()
        if (ok(n)) return n ?? 0
        if (performance.now() - t0 > 60_000) throw new Error(`${what}: the capacity view still shows ${String(n)} after 60 s`)
        await new Promise((r) => setTimeout(r, 2))
      }
    }
    await until('first report', (n) => n !== undefined && n > 0, performance.now())
    const seen: Change[] = []
    for (let i = 0; i < pairs; i += 1) {
      const before = await until('settled', (n) => n !== undefined, performance.now())
      let t0 = performance.now()
      const server = { name: `prop-${i}`, imageRef: image.id, flavorRef: '1', networks: 'none' }
      const r = await fetch(`${compute}/servers`, { method: 'POST', headers, body: JSON.stringify({ server }) })
      if (r.status !== 202) throw new Error(`POST /servers: ${r.status} ${await r.text()}`)
      const id = ((await r.json()) as { server: { id: string } }).server.id
      const booted = await until(`boot ${i}`, (n) => n !== undefined && n < before, t0)
      seen.push({ kind: 'boot', before, after: booted, ms: performance.now() - t0 })
      // The server must be ACTIVE before its delete, as a user would see it.
      for (;;) {
        const g = (await (await fetch(`${compute}/servers/${id}`, { headers })).json()) as { server?: { status: string } }
        if (g.server?.status === 'ACTIVE') break
        if (g.server?.status === 'ERROR') throw new Error(`server ${id} went to ERROR`)
        await new Promise((res) => setTimeout(res, 5))
      }
      const base = await fits()
      t0 = performance.now()
      const d = await fetch(`${compute}/servers/${id}`, { method: 'DELETE', headers })
      if (d.status !== 204) throw new Error(`DELETE ${id}: ${d.status} ${await d.text()}`)
      const freed = await until(`delete ${i}`, (n) => n !== undefined && base !== undefined && n > base, t0)
      seen.push({ kind: 'delete', before: base ?? 0, after: freed, ms: performance.now() - t0 })
    }
    for (const c of seen) onChange?.(c)
    const out: Figures = { levels: 3, changes: seen.length }
    for (const kind of ['boot', 'delete'] as const) {
      const xs = seen.filter((c) => c.kind === kind).map((c) => c.ms)
      out[`${kind}.toVisible.p50Ms`] = Math.round(quantile(xs, 0.5) * 10) / 10
      out[`${kind}.toVisible.p95Ms`] = Math.round(quantile(xs, 0.95) * 10) / 10
      out[`${kind}.toVisible.maxMs`] = Math.round(Math.max(...xs) * 10) / 10
    }
    const all = seen.map((c) => c.ms)
    out['change.toVisible.p50Ms'] = Math.round(quantile(all, 0.5) * 10) / 10
    out['change.toVisible.p95Ms'] = Math.round(quantile(all, 0.95) * 10) / 10
    return out
  } finally {
    await tree.close()
  }
}
