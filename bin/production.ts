#!/usr/bin/env node
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cellMigrations } from '../child-cell/db/migrations.js'
import { hostPluginsOf } from '../child-cell/scheduler/plugins.js'
import type { ServiceRole } from '../shared/bus/caller.js'
import { LOCAL_DEV_URLS, SERVER_URL_ENV } from '../shared/config/credentials.js'
import type { FederationConfig } from '../shared/config/federation.js'
import { adminPasswordFor, adminPasswordHint, cellEndpoints, COMMON_HELP, federationConfig } from '../shared/config/federation.js'
import type { CellConfig } from '../shared/config/regions.js'
import { migrateToLatest, openDatabase } from '../shared/db/database.js'
import { ensurePrivateDir, securePrivateTree, writePrivateFile } from '../shared/fs/private-files.js'
import type { Logger } from '../shared/logging.js'
import { parseOrExit, runMain, stopOnSignals } from '../shared/cli/process-main.js'
import { createLogger } from '../shared/logging.js'
import { metricsPortOf } from '../shared/metrics/metrics-server.js'
import { ensureFederationPki } from '../shared/pki/federation-ca.js'
import { writeCloudsYaml } from './embedded.js'
import type { ProcessIdentity } from './production-credentials.js'
import { computeHostGroups, ServiceCredentials } from './production-credentials.js'
import type { SiteSelection } from './production-sites.js'
import { identitiesOf, inSelection, missingSetup, parseOnly, setupModeOf, wholeFederation } from './production-sites.js'

const USAGE = `Usage: npm run start:production -- [options]

Runs the federation as separate OS processes over MariaDB (one schema per cell plus the API schema)
and RabbitMQ (one vhost per cell, created here): per cell a conductor, a scheduler (or
--scheduler-workers of them), a compute process (all the cell's hosts) and a cell agent; one API
process. Crashed processes are restarted and logged. Every service gets its own broker user and
database account with least privilege (passwords kept 0600 in STATE_DIR/service-credentials.json);
set-up uses the administrator credentials of FEDERATION_DATABASE_URL(_FILE) and rabbitmqctl.

  --metrics-base-port N  every process serves Prometheus metrics on GET /metrics at N, N+1, ... in
                         plan order; the list is written to STATE_DIR/prometheus-targets.json
  --metrics-port N       the same as --metrics-base-port N (npm start's flag: there one port serves
                         every service; here each process has its own, from N on)
  --only PATH[,PATH]     run only these cells' processes, each with its whole subtree (e.g.
                         api!region-two), and the API process only when \`api\` is listed: one site
                         of a federation spread over sites (default: everything)
  --setup MODE           auto: set up (schemas, vhosts, users, accounts, PKI) for what this start
                         runs, then run it (default); only: set up and exit; skip: no set-up, use
                         the credentials and certificates another site's set-up left in STATE_DIR
${COMMON_HELP}`

const dist = join(fileURLToPath(import.meta.url), '..', '..')

/** One process of the plan: its name, its command line and who it is (for its credentials). */
export interface PlannedProcess {
  readonly name: string
  readonly args: string[]
  readonly identity: ProcessIdentity
}

/** One supervised process. */
interface Proc {
  readonly name: string
  readonly args: readonly string[]
  readonly env: NodeJS.ProcessEnv
  child: ChildProcess | undefined
  restarts: number
  startedAt: number
}

/**
 * The processes of the federation (or of the cells and API `only` selects), children before
 * parents, the API last. With `metricsBasePort`, process i also gets `--metrics-port metricsBasePort + i`.
 */
export function processPlan(cfg: FederationConfig, flags: readonly string[], metricsBasePort?: number, only: SiteSelection = wholeFederation(cfg)): PlannedProcess[] {
  const plan: PlannedProcess[] = []
  const cellProc = (c: CellConfig, role: ServiceRole, extra: readonly string[] = []): PlannedProcess => ({
    name: `${role}@${c.path}`,
    args: [join(dist, 'child-cell', 'main.js'), '--cell', c.path, '--role', role, ...extra, ...flags],
    identity: { role, cell: c },
  })
  const walk = (c: CellConfig): void => {
    for (const ch of c.children) walk(ch)
    plan.push(cellProc(c, 'conductor'))
    if (c.hosts.length > 0) {
      // Several schedulers share the cell's scheduler queue; claims keep them from over-committing.
      for (let w = 1; w <= cfg.scheduler.workers; w += 1) {
        const p = cellProc(c, 'scheduler')
        plan.push(w === 1 ? p : { ...p, name: `scheduler#${w}@${c.path}` })
      }
      // One compute process per group of hosts whose broker user name fits (usually all of them).
      const groups = computeHostGroups(cellEndpoints(cfg, c).vhost as string, c.hosts.map((h) => h.name))
      groups.forEach((hosts, i) => {
        const p = cellProc(c, 'compute', groups.length > 1 ? ['--hosts', hosts.join(',')] : [])
        plan.push({ ...p, name: i === 0 ? p.name : `compute#${i + 1}@${c.path}`, identity: { role: 'compute', cell: c, hosts } })
      })
    }
    plan.push(cellProc(c, 'agent'))
  }
  cfg.regions.forEach(walk)
  plan.push({ name: 'api', args: [join(dist, 'api-cell', 'main.js'), ...flags], identity: { role: 'api' } })
  const selected = plan.filter((p) => inSelection(only, p.identity))
  if (metricsBasePort === undefined) return selected
  return selected.map((p, i) => ({ ...p, args: [...p.args, '--metrics-port', String(metricsBasePort + i)] }))
}

/** Where each process serves metrics, as a Prometheus `file_sd_configs` file. */
export function writePrometheusTargets(cfg: FederationConfig, plan: ReadonlyArray<{ name: string; args: readonly string[] }>): string | undefined {
  const targets = plan.flatMap((p) => {
    const i = p.args.indexOf('--metrics-port')
    const port = i < 0 ? undefined : p.args[i + 1]
    if (port === undefined) return []
    const [role, cell] = p.name.split('@')
    return [{ targets: [`${cfg.host}:${port}`], labels: { process: p.name, role: role ?? p.name, cell: cell ?? 'api' } }]
  })
  if (targets.length === 0) return undefined
  const path = join(cfg.stateDir, 'prometheus-targets.json')
  ensurePrivateDir(cfg.stateDir)
  writePrivateFile(path, `${JSON.stringify(targets, null, 2)}\n`)
  return path
}

/**
 * With the administrator's credentials: creates every vhost with its exchanges and queues, every
 * per-service broker user and database account (credentials kept 0600 in the state directory),
 * and brings every cell schema up to date (the API migrates its own). Also creates the federation
 * CA and the certificates of the API cell and every configured cell when missing (or unusable),
 * and says which cell paths got a new certificate. With `only`, all this for those cells (and the
 * API's account and certificate when it is selected).
 */
export async function prepare(cfg: FederationConfig, only: SiteSelection = wholeFederation(cfg)): Promise<{ credentials: ServiceCredentials; issued: string[] }> {
  const issued = await ensureFederationPki(cfg.pki.dir, identitiesOf(only))
  const credentials = ServiceCredentials.load(cfg)
  await credentials.provision(only)
  for (const c of only.cells) {
    const ep = cellEndpoints(cfg, c)
    const db = await openDatabase(ep.databaseUrl)
    try {
      await migrateToLatest(db.db, cellMigrations)
    } finally {
      await db.close()
    }
  }
  return { credentials, issued }
}

/**
 * Keeps every process running: a process that exits unexpectedly is restarted after a backoff that
 * grows while it keeps crashing (reset after a minute of uptime). Output goes through, prefixed.
 */
export class Supervisor {
  readonly #procs: Proc[]
  readonly #log: Logger
  #stopping = false

  /** `plan`: each process with its environment (which carries its credentials, never its argv). */
  constructor(plan: ReadonlyArray<{ name: string; args: readonly string[]; env: NodeJS.ProcessEnv }>, log: Logger) {
    this.#procs = plan.map((p) => ({ ...p, child: undefined, restarts: 0, startedAt: 0 }))
    this.#log = log
  }

  start(): void {
    for (const p of this.#procs) this.#spawn(p)
  }

  #spawn(p: Proc): void {
    p.startedAt = Date.now()
    const child = spawn(process.execPath, [...p.args], { stdio: ['ignore', 'inherit', 'inherit'], env: p.env })
    p.child = child
    this.#log.info({ process: p.name, pid: child.pid }, 'process started')
    child.on('exit', (code, signal) => {
      p.child = undefined
      if (this.#stopping) return
      if (Date.now() - p.startedAt > 60_000) p.restarts = 0
      p.restarts += 1
      const delay = Math.min(10_000, 250 * 2 ** Math.min(p.restarts, 6))
      this.#log.error({ process: p.name, code, signal, restartInMs: delay, restarts: p.restarts }, 'process exited; restarting')
      setTimeout(() => {
        if (!this.#stopping) this.#spawn(p)
      }, delay).unref()
    })
  }

  /** Stops everything: the API first, then cells from the top down. */
  async stop(): Promise<void> {
    this.#stopping = true
    for (const p of [...this.#procs].reverse()) {
      const c = p.child
      if (c === undefined) continue
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          c.kill('SIGKILL')
          resolve()
        }, 5000)
        c.once('exit', () => {
          clearTimeout(t)
          resolve()
        })
        c.kill('SIGTERM')
      })
    }
  }

  /** Pid of a supervised process (tests kill one and watch it come back). */
  pid(name: string): number | undefined {
    return this.#procs.find((p) => p.name === name)?.child?.pid
  }
}

/**
 * The supervisor's flags that every process gets: all but its own, and but the server URLs, which
 * reach each process in its environment with its own credentials (shared/config/credentials.ts).
 */
export function childFlags(argv: readonly string[]): string[] {
  return ['--metrics-base-port', '--metrics-port', '--database-url', '--transport-url', '--only', '--setup'].reduce((a, f) => withoutFlag(a, f), argv.filter((a) => a !== '--'))
}

/** `argv` without `flag` and its value (`--flag V` or `--flag=V`): flags of the supervisor only. */
function withoutFlag(argv: readonly string[], flag: string): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i] ?? ''
    if (a === flag) i += 1
    else if (!a.startsWith(`${flag}=`)) out.push(a)
  }
  return out
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const flags = { 'metrics-base-port': { type: 'string' }, 'metrics-port': { type: 'string' }, only: { type: 'string' }, setup: { type: 'string' } } as const
  const values = parseOrExit(argv, flags, USAGE, (v) => {
    if (v['metrics-base-port'] !== undefined && v['metrics-port'] !== undefined) {
      throw new Error('--metrics-port and --metrics-base-port are the same flag here: give one')
    }
    metricsPortOf(v['metrics-base-port'] ?? v['metrics-port'])
    setupModeOf(v['setup'] as string | undefined)
    parseOnly(federationConfig('production', v), v['only'] as string | undefined)
  })
  if (values === undefined) return
  const cfg = federationConfig('production', values)
  const only = parseOnly(cfg, values['only'] as string | undefined)
  const setup = setupModeOf(values['setup'] as string | undefined)
  // Host filters and weighers are checked here too, so that a typo stops everything at once rather
  // than every scheduler process crashing in a loop.
  hostPluginsOf(cfg.scheduler)
  const log = createLogger('supervisor')
  // Before any process starts: the state dir and what an older start left in it become private.
  securePrivateTree(cfg.stateDir)
  let credentials: ServiceCredentials
  if (setup === 'skip') {
    // Another site (or an earlier `--setup only`) did it: what it left must be here, or nothing starts.
    const missing = missingSetup(cfg.pki.dir, only)
    if (missing.length > 0) throw new Error(`--setup skip, but the set-up is not done here: ${missing.join('; ')}`)
    credentials = ServiceCredentials.load(cfg, true)
  } else {
    // The broker is administered through rabbitmqctl (no credentials); the database needs an admin.
    if (cfg.serverUrlSources.database === 'local-default') {
      log.warn({ url: LOCAL_DEV_URLS.database }, `no ${SERVER_URL_ENV.database}: setting up with the local development database administrator`)
    }
    const prepared = await prepare(cfg, only)
    credentials = prepared.credentials
    if (prepared.issued.length > 0) log.info({ pki: cfg.pki.dir, issued: prepared.issued }, 'issued cell certificates')
    if (credentials.revoked.length > 0) log.warn({ revoked: credentials.revoked }, 'took away broker rights of users that are no service of their cell')
  }
  if (setup === 'only') {
    if (only.api) adminPasswordFor(cfg)
    process.stdout.write(`Set-up done for ${identitiesOf(only).join(', ')} (state in ${cfg.stateDir}); start the sites with --setup skip\n`)
    return
  }
  if (credentials.classicQueues.length > 0) {
    log.warn({ queues: credentials.classicQueues }, 'work queues of an older version are still classic queues (in use): not restart-safe until a later start migrates them')
  }
  const metricsBase = metricsPortOf(values['metrics-base-port'] ?? values['metrics-port'])
  const plan = processPlan(cfg, childFlags(argv), metricsBase, only)
  const targets = writePrometheusTargets(cfg, plan)
  const sup = new Supervisor(plan.map((p) => ({ ...p, env: credentials.envFor(p.identity) })), log)
  sup.start()
  const identity = `http://${cfg.publicHost}:${cfg.ports.identity}`
  const clouds = only.api ? writeCloudsYaml(cfg, identity, adminPasswordFor(cfg)) : undefined
  process.stdout.write(
    [
      '',
      `Federation starting in production mode (MariaDB ${cfg.databaseBaseUrl.replace(/\/\/[^@]*@/, '//')}, RabbitMQ, one process per service)`,
      ...(only.api
        ? [
            `  identity: ${identity}/v3   compute: http://${cfg.publicHost}:${cfg.ports.compute}/v2.1   image: http://${cfg.publicHost}:${cfg.ports.image}   network: http://${cfg.publicHost}:${cfg.ports.network}`,
            `  dashboard: http://${cfg.publicHost}:${cfg.ports.compute}/dashboard/`,
            `  admin: user admin, project admin, domain Default, password ${adminPasswordHint(cfg)}`,
            `  clouds.yaml: ${clouds ?? ''} (cloud "federation")`,
          ]
        : []),
      `  cells: ${only.cells.length === 0 ? 'none' : only.cells.map((c) => `${c.path} (gRPC ${cellEndpoints(cfg, c).grpcListen})`).join(', ')}`,
      ...(targets === undefined ? [] : [`  metrics: ports ${metricsBase ?? 0}-${(metricsBase ?? 0) + plan.length - 1}, listed in ${targets}`]),
      '',
    ].join('\n') + '\n',
  )
  stopOnSignals(() => sup.stop())
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runMain(main)
}
