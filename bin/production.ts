#!/usr/bin/env node
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cellMigrations } from '../child-cell/db/migrations.js'
import { hostPluginsOf } from '../child-cell/scheduler/plugins.js'
import { ensureVhost } from '../shared/bus/amqp-admin.js'
import type { FederationConfig } from '../shared/config/federation.js'
import { adminPasswordFor, cellEndpoints, COMMON_HELP, federationConfig } from '../shared/config/federation.js'
import type { CellConfig } from '../shared/config/regions.js'
import { allCells } from '../shared/config/regions.js'
import { migrateToLatest, openDatabase } from '../shared/db/database.js'
import type { Logger } from '../shared/logging.js'
import { parseOrExit, runMain, stopOnSignals } from '../shared/cli/process-main.js'
import { createLogger } from '../shared/logging.js'
import { metricsPortOf } from '../shared/metrics/metrics-server.js'
import { ensureFederationPki } from '../shared/pki/federation-ca.js'
import { writeCloudsYaml } from './embedded.js'

const USAGE = `Usage: npm run start:production -- [options]

Runs the federation as separate OS processes over MariaDB (one schema per cell plus the API schema)
and RabbitMQ (one vhost per cell, created here): per cell a conductor, a scheduler (or
--scheduler-workers of them), a compute process (all the cell's hosts) and a cell agent; one API
process. Crashed processes are restarted and logged.

  --metrics-base-port N  every process serves Prometheus metrics on GET /metrics at N, N+1, ... in
                         plan order; the list is written to STATE_DIR/prometheus-targets.json
${COMMON_HELP}`

const dist = join(fileURLToPath(import.meta.url), '..', '..')

/** One supervised process. */
interface Proc {
  readonly name: string
  readonly args: readonly string[]
  child: ChildProcess | undefined
  restarts: number
  startedAt: number
}

/**
 * The processes of the federation, children before parents, the API last. With
 * `metricsBasePort`, process i also gets `--metrics-port metricsBasePort + i`.
 */
export function processPlan(cfg: FederationConfig, flags: readonly string[], metricsBasePort?: number): Array<{ name: string; args: string[] }> {
  const plan: Array<{ name: string; args: string[] }> = []
  const cellProc = (c: CellConfig, role: string): { name: string; args: string[] } => ({
    name: `${role}@${c.path}`,
    args: [join(dist, 'child-cell', 'main.js'), '--cell', c.path, '--role', role, ...flags],
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
      plan.push(cellProc(c, 'compute'))
    }
    plan.push(cellProc(c, 'agent'))
  }
  cfg.regions.forEach(walk)
  plan.push({ name: 'api', args: [join(dist, 'api-cell', 'main.js'), ...flags] })
  if (metricsBasePort === undefined) return plan
  return plan.map((p, i) => ({ ...p, args: [...p.args, '--metrics-port', String(metricsBasePort + i)] }))
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
  mkdirSync(cfg.stateDir, { recursive: true })
  writeFileSync(path, `${JSON.stringify(targets, null, 2)}\n`)
  return path
}

/**
 * Creates the federation CA and the certificates of the API cell and every configured cell when
 * missing (or unusable), every vhost, and brings every cell schema up to date (the API migrates
 * its own). Returns the cell paths whose certificate it issued.
 */
export async function prepare(cfg: FederationConfig): Promise<string[]> {
  const issued = await ensureFederationPki(cfg.pki.dir, ['api', ...allCells(cfg.regions).map((c) => c.path)])
  for (const c of allCells(cfg.regions)) {
    const ep = cellEndpoints(cfg, c)
    if (ep.vhost !== undefined) await ensureVhost(ep.vhost)
    const db = await openDatabase(ep.databaseUrl)
    try {
      await migrateToLatest(db.db, cellMigrations)
    } finally {
      await db.close()
    }
  }
  return issued
}

/**
 * Keeps every process running: a process that exits unexpectedly is restarted after a backoff that
 * grows while it keeps crashing (reset after a minute of uptime). Output goes through, prefixed.
 */
export class Supervisor {
  readonly #procs: Proc[]
  readonly #log: Logger
  #stopping = false

  constructor(plan: ReadonlyArray<{ name: string; args: readonly string[] }>, log: Logger) {
    this.#procs = plan.map((p) => ({ ...p, child: undefined, restarts: 0, startedAt: 0 }))
    this.#log = log
  }

  start(): void {
    for (const p of this.#procs) this.#spawn(p)
  }

  #spawn(p: Proc): void {
    p.startedAt = Date.now()
    const child = spawn(process.execPath, [...p.args], { stdio: ['ignore', 'inherit', 'inherit'], env: process.env })
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
  const values = parseOrExit(argv, { 'metrics-base-port': { type: 'string' } }, USAGE, (v) => {
    if (v['metrics-base-port'] !== undefined) metricsPortOf(v['metrics-base-port'])
  })
  if (values === undefined) return
  const cfg = federationConfig('production', values)
  // Host filters and weighers are checked here too, so that a typo stops everything at once rather
  // than every scheduler process crashing in a loop.
  hostPluginsOf(cfg.scheduler)
  const log = createLogger('supervisor')
  const issued = await prepare(cfg)
  if (issued.length > 0) log.info({ pki: cfg.pki.dir, issued }, 'issued cell certificates')
  const password = adminPasswordFor(cfg)
  const metricsBase = values['metrics-base-port'] === undefined ? undefined : metricsPortOf(values['metrics-base-port'])
  const flags = withoutFlag(
    argv.filter((a) => a !== '--'),
    '--metrics-base-port',
  )
  const plan = processPlan(cfg, flags, metricsBase)
  const targets = writePrometheusTargets(cfg, plan)
  const sup = new Supervisor(plan, log)
  sup.start()
  const identity = `http://${cfg.host}:${cfg.ports.identity}`
  const clouds = writeCloudsYaml(cfg, identity, password)
  process.stdout.write(
    [
      '',
      `Federation starting in production mode (MariaDB ${cfg.databaseBaseUrl.replace(/\/\/[^@]*@/, '//')}, RabbitMQ, one process per service)`,
      `  identity: ${identity}/v3   compute: http://${cfg.host}:${cfg.ports.compute}/v2.1   image: http://${cfg.host}:${cfg.ports.image}`,
      `  admin: user admin, project admin, domain Default, password ${password}`,
      `  clouds.yaml: ${clouds} (cloud "federation")`,
      ...(targets === undefined ? [] : [`  metrics: ports ${metricsBase ?? 0}-${(metricsBase ?? 0) + plan.length - 1}, listed in ${targets}`]),
      '',
    ].join('\n') + '\n',
  )
  stopOnSignals(() => sup.stop())
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runMain(main)
}
