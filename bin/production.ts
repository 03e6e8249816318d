#!/usr/bin/env node
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cellMigrations } from '../child-cell/db/migrations.js'
import { ensureVhost } from '../shared/bus/amqp-admin.js'
import type { FederationConfig } from '../shared/config/federation.js'
import { adminPasswordFor, cellEndpoints, COMMON_HELP, federationConfig, parseFlags } from '../shared/config/federation.js'
import type { CellConfig } from '../shared/config/regions.js'
import { allCells } from '../shared/config/regions.js'
import { migrateToLatest, openDatabase } from '../shared/db/database.js'
import type { Logger } from '../shared/logging.js'
import { createLogger } from '../shared/logging.js'
import { writeCloudsYaml } from './embedded.js'

const USAGE = `Usage: npm run start:production -- [options]

Runs the federation as separate OS processes over MariaDB (one schema per cell plus the API schema)
and RabbitMQ (one vhost per cell, created here): per cell a conductor, a scheduler, a compute process
(all the cell's hosts) and a cell agent; one API process. Crashed processes are restarted and logged.

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

/** The processes of the federation, children before parents, the API last. */
export function processPlan(cfg: FederationConfig, flags: readonly string[]): Array<{ name: string; args: string[] }> {
  const plan: Array<{ name: string; args: string[] }> = []
  const cellProc = (c: CellConfig, role: string): { name: string; args: string[] } => ({
    name: `${role}@${c.path}`,
    args: [join(dist, 'child-cell', 'main.js'), '--cell', c.path, '--role', role, ...flags],
  })
  const walk = (c: CellConfig): void => {
    for (const ch of c.children) walk(ch)
    plan.push(cellProc(c, 'conductor'))
    if (c.hosts.length > 0) {
      plan.push(cellProc(c, 'scheduler'))
      plan.push(cellProc(c, 'compute'))
    }
    plan.push(cellProc(c, 'agent'))
  }
  cfg.regions.forEach(walk)
  plan.push({ name: 'api', args: [join(dist, 'api-cell', 'main.js'), ...flags] })
  return plan
}

/** Creates every vhost and brings every cell schema up to date (the API migrates its own). */
export async function prepare(cfg: FederationConfig): Promise<void> {
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

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  let values
  try {
    values = parseFlags(argv, {})
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`)
    process.exit(2)
  }
  if (values['help'] === true) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const cfg = federationConfig('production', values)
  const log = createLogger('supervisor')
  await prepare(cfg)
  const password = adminPasswordFor(cfg)
  const flags = argv.filter((a) => a !== '--')
  const sup = new Supervisor(processPlan(cfg, flags), log)
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
      '',
    ].join('\n') + '\n',
  )
  let stopping = false
  const shutdown = (): void => {
    if (stopping) return
    stopping = true
    sup.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
