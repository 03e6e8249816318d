/**
 * The floors a figure is compared with, measured in the same run as the figure (issue #12: "give
 * the ratio to its floor measured in the same run"), so that a noisy machine shows in both:
 * - `grpc.call.p50Ms`: one unary gRPC call over loopback with mutual TLS (a cell link's transport);
 * - `memory.call.p50Ms` / `amqp.call.p50Ms`: one call on the embedded bus / through RabbitMQ;
 * - `sqlite.commit.p50Ms` / `mysql.commit.p50Ms`: one single-row INSERT transaction through Kysely.
 */
import * as grpc from '@grpc/grpc-js'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { amqpUrlForVhost, deleteVhost, ensureVhost } from '../shared/bus/amqp-admin.js'
import { AmqpBus } from '../shared/bus/amqp-bus.js'
import { InProcessBus } from '../shared/bus/in-process-bus.js'
import type { MessageBus } from '../shared/bus/message-bus.js'
import { CellTls } from '../shared/cell-link/cell-tls.js'
import { systemContext } from '../shared/context.js'
import { dropMysqlSchema, openDatabase, sql } from '../shared/db/database.js'
import { ensureFederationPki } from '../shared/pki/federation-ca.js'

/** Floors by name, in ms (p50). */
export type Floors = Record<string, number>

/** The p50 of `n` sequential runs of `op`, after `n / 10` unmeasured ones. */
export async function p50Of(n: number, op: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.max(1, Math.floor(n / 10)); i += 1) await op()
  const xs: number[] = []
  for (let i = 0; i < n; i += 1) {
    const t0 = performance.now()
    await op()
    xs.push(performance.now() - t0)
  }
  return quantile(xs, 0.5)
}

/** The `q` quantile of `xs` (nearest rank), rounded to µs; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  const v = s[Math.min(s.length - 1, Math.floor(q * s.length))]
  return v === undefined ? Number.NaN : Math.round(v * 1000) / 1000
}

const echo = { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b }

/** One unary gRPC echo over loopback mTLS, with a scratch CA and cell identity under `dir`. */
export async function grpcFloor(dir: string, n: number): Promise<number> {
  const pki = { dir: join(dir, 'pki'), refreshMs: 60_000 }
  await ensureFederationPki(pki.dir, ['api'])
  const tls = CellTls.open(pki, 'api')
  const server = new grpc.Server()
  server.addService({ Echo: echo }, { Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) })
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', tls.serverCredentials(), (err, p) => (err === null ? resolve(p) : reject(err))))
  const client = new grpc.Client(`127.0.0.1:${port}`, tls.channelCredentials('api'))
  const payload = Buffer.alloc(64, 1)
  const one = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      client.makeUnaryRequest(echo.path, echo.requestSerialize, echo.responseDeserialize, payload, { deadline: Date.now() + 5000 }, (e) => (e === null ? resolve() : reject(e)))
    })
  try {
    return await p50Of(n, one)
  } finally {
    client.close()
    await new Promise<void>((r) => server.tryShutdown(() => r()))
  }
}

/** One call on `bus` (served by the same process), the transport cost of a call inside a cell. */
async function busFloor(bus: MessageBus, caller: MessageBus, n: number): Promise<number> {
  await bus.serve({ topic: 'floor', handler: (_ctx, _m, a) => a })
  return p50Of(n, () => caller.call(systemContext(), { topic: 'floor', method: 'echo', args: { n: 1 } }))
}

/** One single-row INSERT transaction at `url` (a scratch table, dropped after). */
async function commitFloor(url: string, n: number): Promise<number> {
  const { db, close } = await openDatabase<any>(url)
  try {
    await sql`CREATE TABLE IF NOT EXISTS floor_commit (id INTEGER PRIMARY KEY, v VARCHAR(64) NOT NULL)`.execute(db)
    let id = 0
    return await p50Of(n, () => db.transaction().execute((tx) => tx.insertInto('floor_commit').values({ id: (id += 1), v: 'x' }).execute()))
  } finally {
    await sql`DROP TABLE IF EXISTS floor_commit`.execute(db).catch(() => undefined)
    await close()
  }
}

/**
 * The floors of embedded mode (in-process bus, SQLite file under `dir`, gRPC) or production mode
 * (RabbitMQ in a scratch vhost, a scratch MariaDB schema, gRPC); `n` calls each.
 */
export async function measureFloors(mode: 'embedded' | 'production', dir: string, n: number): Promise<Floors> {
  const out: Floors = { 'grpc.call.p50Ms': await grpcFloor(dir, n) }
  if (mode === 'embedded') {
    const bus = new InProcessBus()
    try {
      out['memory.call.p50Ms'] = await busFloor(bus, bus, n)
    } finally {
      await bus.close()
    }
    out['sqlite.commit.p50Ms'] = await commitFloor(`sqlite:${join(dir, 'floor.db')}`, n)
    return out
  }
  const tag = randomBytes(4).toString('hex')
  const vhost = `throughput-floor-${tag}`
  await ensureVhost(vhost)
  const buses: MessageBus[] = []
  try {
    const url = amqpUrlForVhost('amqp://guest:guest@127.0.0.1:5672', vhost)
    const server = await AmqpBus.connect({ url, name: `${vhost}-server` })
    buses.push(server)
    const client = await AmqpBus.connect({ url, name: `${vhost}-client` })
    buses.push(client)
    out['amqp.call.p50Ms'] = await busFloor(server, client, n)
  } finally {
    for (const b of buses) await b.close()
    await deleteVhost(vhost)
  }
  const schema = `mysql://root@127.0.0.1:3306/throughput_floor_${tag}`
  try {
    out['mysql.commit.p50Ms'] = await commitFloor(schema, n)
  } finally {
    await dropMysqlSchema(schema)
  }
  return out
}
