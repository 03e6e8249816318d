import type { ChildProcess } from 'node:child_process'
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { deleteUsers, deleteVhost, listUsers } from '../shared/bus/amqp-admin.js'
import { dropMysqlSchema } from '../shared/db/database.js'
import { dropSchemaUsers, listSchemaUsers } from '../shared/db/mysql-admin.js'
import { packageRoot } from '../shared/paths.js'

const root = packageRoot()
/** The test machine's MariaDB administrator (README: Tests). */
const ADMIN_DB = 'mysql://root@127.0.0.1:3306'

/**
 * A production-mode federation started through `dist/bin/production.js` (needs `npm run build`),
 * shared by the production tests and `npm run bench -- faults`.
 */
export interface ProductionFederation {
  readonly stateDir: string
  readonly prefix: string
  readonly identityUrl: string
  readonly computeUrl: string
  /** The first region's metadata API (`--metadata-port`); the next regions follow on the next ports. */
  readonly metadataUrl: string
  readonly supervisor: ChildProcess
  output(): string
  /** Pids of the supervised processes whose command line contains all of `parts`. */
  pids(...parts: string[]): number[]
  stop(): Promise<void>
}

const rand = (): string => Math.random().toString(36).slice(2, 8)

/**
 * deploy/regions without fixed gRPC ports (so a test run never collides with a running federation),
 * or the given region files (name -> YAML text) instead.
 */
function regionsCopy(dir: string, custom?: Readonly<Record<string, string>>): string {
  const out = join(dir, 'regions')
  mkdirSync(out, { recursive: true })
  if (custom !== undefined) {
    for (const [f, text] of Object.entries(custom)) writeFileSync(join(out, f), text)
    return out
  }
  const strip = (c: any): any => {
    delete c.grpc_port
    for (const ch of c.children ?? []) strip(ch)
    return c
  }
  for (const f of readdirSync(join(root, 'deploy', 'regions'))) {
    if (!f.endsWith('.yaml')) continue
    writeFileSync(join(out, f), stringify(strip(parse(readFileSync(join(root, 'deploy', 'regions', f), 'utf8')))))
  }
  return out
}

/** What a test may change about the production federation it starts. */
export interface ProductionOptions {
  /** Region files (file name -> YAML) to use instead of deploy/regions. */
  readonly regions?: Readonly<Record<string, string>>
  /** More flags for the supervisor (and so for every process), e.g. `--scheduler-workers 2`. */
  readonly args?: readonly string[]
  /** Start of the schema and vhost names (default `fedtest`), e.g. a branch's name; a random part follows. */
  readonly namePrefix?: string
}

export async function startProduction(opts: ProductionOptions = {}): Promise<ProductionFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'fedprod-'))
  const prefix = `${opts.namePrefix ?? 'fedtest'}_${rand()}`
  // Below the kernel's ephemeral range (32768+), where outgoing connections would collide.
  const base = 20000 + Math.floor(Math.random() * 12000)
  const ports = { identity: base, compute: base + 1, image: base + 2, metadata: base + 7, grpc: base + 10 }
  const args = [
    join(root, 'dist', 'bin', 'production.js'),
    '--state-dir',
    join(dir, 'state'),
    '--regions-dir',
    regionsCopy(dir, opts.regions),
    '--name-prefix',
    prefix,
    '--identity-port',
    String(ports.identity),
    '--compute-port',
    String(ports.compute),
    '--image-port',
    String(ports.image),
    // The regions' console proxies (one port each), clear of other rigs running beside this one.
    '--console-port',
    String(base + 3),
    // The regions' metadata APIs, after the console proxies and before the gRPC ports.
    '--metadata-port',
    String(ports.metadata),
    // The network API, after the console proxies.
    '--network-port',
    String(base + 6),
    '--grpc-base-port',
    String(ports.grpc),
    ...(opts.args ?? []),
  ]
  let out = ''
  const supervisor = spawn(process.execPath, args, {
    env: { ...process.env, ADMIN_PASSWORD: 'secret-admin-pw', LOG_LEVEL: process.env['FED_LOG'] ?? 'warn', FEDERATION_REPORT_INTERVAL_MS: '1000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  supervisor.stdout?.on('data', (b: Buffer) => (out += b.toString()))
  supervisor.stderr?.on('data', (b: Buffer) => (out += b.toString()))
  const identityUrl = `http://127.0.0.1:${ports.identity}`
  const end = Date.now() + 90_000
  for (;;) {
    if (supervisor.exitCode !== null) throw new Error(`supervisor exited: ${out}`)
    try {
      const r = await fetch(`${identityUrl}/v3`)
      if (r.status === 200) break
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`production federation did not start: ${out}`)
    await new Promise((r) => setTimeout(r, 250))
  }
  return {
    stateDir: join(dir, 'state'),
    prefix,
    identityUrl,
    computeUrl: `http://127.0.0.1:${ports.compute}/v2.1`,
    metadataUrl: `http://127.0.0.1:${ports.metadata}`,
    supervisor,
    output: () => out,
    pids: (...parts) => {
      const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
      return ps
        .split('\n')
        .filter((l) => l.includes(`--name-prefix ${prefix}`) && parts.every((p) => l.includes(p)))
        .map((l) => Number(l.trim().split(/\s+/)[0]))
    },
    stop: async () => {
      if (supervisor.exitCode === null) {
        const exited = new Promise<void>((r) => supervisor.once('exit', () => r()))
        supervisor.kill('SIGTERM')
        await exited
      }
      await dropFederation(prefix)
    },
  }
}

/**
 * Drops what a production federation with schema and vhost prefix `prefix` created on the shared
 * servers: its schemas, vhosts, per-service broker users and database accounts.
 */
export async function dropFederation(prefix: string): Promise<void> {
  const schemas = execFileSync('mysql', ['-h127.0.0.1', '-uroot', '-N', '-e', `SHOW DATABASES LIKE '${prefix}\\_%'`], { encoding: 'utf8' })
  for (const s of schemas.split('\n').filter((x) => x !== '')) await dropMysqlSchema(`mysql://root@127.0.0.1:3306/${s}`)
  await dropSchemaUsers(ADMIN_DB, await listSchemaUsers(ADMIN_DB, `${prefix}_`))
  // The broker is shared: another run's broker-restart scenario may have it stopped for a few
  // seconds (`rabbit` app not running); try again rather than leave vhosts and users behind.
  await brokerRetrying(async () => {
    const vhosts = execFileSync('rabbitmqctl', ['-q', 'list_vhosts'], { encoding: 'utf8' })
    for (const v of vhosts.split('\n').filter((x) => x.startsWith(`${prefix}.`))) await deleteVhost(v)
    // The per-service broker users the supervisor created.
    await deleteUsers((await listUsers()).filter((u) => u.startsWith(`${prefix}.`)))
  })
}

async function brokerRetrying(fn: () => Promise<void>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    try {
      await fn()
      return
    } catch (err) {
      if (Date.now() > end) throw err
      await new Promise((r) => setTimeout(r, 2000))
    }
  }
}
