#!/usr/bin/env node
/**
 * `npm run bench -- NAME`: runs one benchmark (scheduler, bus, virt, boot, converge, detection, sites, move, faults, dashboard, throughput, listing, propagation; `all` runs each), prints its
 * figures, writes them to `bench/results/NAME.json` with a description of the machine, and rewrites
 * `bench/RESULTS.md` from every results file and `bench/NOTES.md` (`summary` only rewrites it).
 * Benchmarks print; tests never assert on time.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { packageRoot } from '../shared/paths.js'
import { benchBoot } from './boot-bench.js'
import { benchBus } from './bus-bench.js'
import { benchConverge } from './converge-bench.js'
import { benchDashboard } from './dashboard-bench.js'
import { benchDetection } from './detection-bench.js'
import { benchFaults, faultTable } from './faults-bench.js'
import { benchListing, listingSizeFromArgs } from './listing-bench.js'
import { benchMove } from './move-bench.js'
import { benchClaims, benchTreeDecisions } from './placement-bench.js'
import { benchPropagation } from './propagation-bench.js'
import { benchSites } from './sites-bench.js'
import { benchDecisions } from './scheduler-bench.js'
import { benchThroughput } from './throughput-bench.js'
import { benchVirt } from './virt-bench.js'

/** Figures of one benchmark: numbers, and a few strings (what was measured). */
export type Figures = Record<string, number | string>

/** The benchmarks by name. */
export const BENCHMARKS: Readonly<Record<string, () => Promise<Figures>>> = {
  scheduler: benchScheduler,
  bus: () => benchBus(),
  virt: () => benchVirt(),
  boot: () => benchBoot(),
  converge: () => benchConverge(),
  detection: () => benchDetection(),
  move: () => benchMove(),
  // Needs root and iproute2 (network namespaces): one namespace per site.
  sites: () => benchSites(),
  faults: () => benchFaults(),
  // The dashboard's server list over 100,000 servers (SQLite index).
  dashboard: () => benchDashboard(),
  // Issue #12's table: multi-create, sequential boots, listings, deletes, RSS, in both modes.
  throughput: () => benchThroughput(),
  // Issue #12: 100,000 servers over 20 leaves listed through the API (`--servers N --leaves L`).
  listing: () => benchListing(listingSizeFromArgs(process.argv.slice(3))),
  // Issue #12: a host's capacity change seen at the API cell through a three-level tree.
  propagation: () => benchPropagation(),
}

/**
 * The scheduler: (a) decisions with every filter and weigher, over 10,000 hosts in one cell and
 * through a tree of 100 leaf cells of 100 hosts; (b) placements per second including the atomic
 * claim, in SQLite and in MariaDB.
 */
async function benchScheduler(): Promise<Figures> {
  const flat = benchDecisions({ hosts: 10_000, iterations: 5000 })
  const out: Figures = {
    'flat.hosts': 10_000,
    'flat.perSecond': Math.round(flat.perSecond),
    'flat.decision.p50Ms': round(flat.p50Ms),
    'flat.decision.p99Ms': round(flat.p99Ms),
    'tree.cells': 100,
    'tree.hosts': 10_000,
    ...benchTreeDecisions(10_000),
  }
  Object.assign(out, await benchClaims({ label: 'sqlite', dialect: 'sqlite', placements: 5000, concurrency: 1 }))
  Object.assign(out, await benchClaims({ label: 'mariadb', dialect: 'mysql', placements: 20_000, concurrency: 32 }))
  Object.assign(out, await benchClaims({ label: 'mariadb.freshReads', dialect: 'mysql', placements: 5000, concurrency: 32, freshReads: true }))
  out['mariadb.server'] = mariadbVersion()
  return out
}

function mariadbVersion(): string {
  try {
    return execFileSync('mysql', ['-h127.0.0.1', '-uroot', '-N', '-e', 'SELECT VERSION()'], { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

/** What the figures were measured on. */
export function machine(): Record<string, string | number> {
  const cpu = cpus()
  let model = cpu[0]?.model ?? 'unknown'
  try {
    const lscpu = execFileSync('lscpu', { encoding: 'utf8' })
    model = /Model name:\s*(.+)/.exec(lscpu)?.[1]?.trim() ?? model
  } catch {
    // no lscpu: keep node's view
  }
  return {
    nproc: cpu.length,
    cpu: model,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    /** Other work on the machine at the end of the run: figures are noisy when it is high. */
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}

/** Rewrites bench/RESULTS.md from every bench/results/*.json. */
function writeSummary(dir: string): void {
  const files = readdirSync(join(dir, 'results')).filter((f) => f.endsWith('.json')).sort()
  const lines = ['# Benchmark results', '', 'Written by `npm run bench -- NAME` (bench/run.ts) from `bench/results/*.json`; figures are', 'latencies in milliseconds and rates per second.', '']
  for (const f of files) {
    const r = JSON.parse(readFileSync(join(dir, 'results', f), 'utf8')) as { name: string; at: string; machine: Record<string, unknown>; figures: Figures }
    const m = r.machine
    const load = m['loadAverage1m'] === undefined ? '' : `, load average ${String(m['loadAverage1m'])}`
    lines.push(`## ${r.name}`, '', `${r.at}, on ${String(m['nproc'])} CPUs (${String(m['cpu'])}), ${String(m['memoryGiB'])} GiB, Node ${String(m['node'])}, Linux ${String(m['kernel'])}${load}.`, '')
    lines.push('| figure | value |', '|---|---|')
    for (const [k, v] of Object.entries(r.figures)) lines.push(`| ${k} | ${v} |`)
    lines.push('')
    // The fault scenarios again, one row per fault (the table issue #9's closing note asks for).
    if (r.name === 'faults') lines.push(...faultTable(r.figures), '')
  }
  const notes = join(dir, 'NOTES.md')
  if (existsSync(notes)) lines.push(readFileSync(notes, 'utf8').trim(), '')
  writeFileSync(join(dir, 'RESULTS.md'), lines.join('\n'))
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? ''
  const dir = join(packageRoot(), 'bench')
  if (name === 'summary') {
    writeSummary(dir)
    return
  }
  const names = name === 'all' ? Object.keys(BENCHMARKS) : [name]
  // Flags after the name belong to the scenario (listing's --servers / --leaves).
  if (!names.every((n) => Object.hasOwn(BENCHMARKS, n))) {
    process.stderr.write(`usage: npm run bench -- ${Object.keys(BENCHMARKS).join(' | ')} | all | summary\n`)
    process.exit(2)
  }
  mkdirSync(join(dir, 'results'), { recursive: true })
  for (const n of names) {
    const bench = BENCHMARKS[n] as () => Promise<Figures>
    process.stdout.write(`${n}: running...\n`)
    const figures = await bench()
    const result = { name: n, at: new Date().toISOString(), machine: machine(), figures }
    for (const [k, v] of Object.entries(figures)) process.stdout.write(`  ${k.padEnd(36)} ${v}\n`)
    writeFileSync(join(dir, 'results', `${n}.json`), `${JSON.stringify(result, null, 2)}\n`)
  }
  writeSummary(dir)
  process.stdout.write(`written: bench/results/*.json, bench/RESULTS.md\n`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  })
}
