import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { packageRoot } from '../shared/paths.js'
import type { Census, Federation } from './exactly-once.js'
import { acceptedIds, bootBurst, burstInLeaves, census, convergedNow, DEPLOY_LEAVES, leafStates } from './exactly-once.js'
import type { FaultScenario } from './fault-injectors.js'
import { FAULTS } from './fault-injectors.js'
import { call, endpoint, login, waitFor } from './os-client.js'
import type { ProductionFederation } from './production-rig.js'
import { startProduction } from './production-rig.js'

type Figures = Record<string, number | string>

const BURST = 20
/** How long the bench waits for detection and for convergence before reporting them as not reached. */
const DETECT_LIMIT_MS = 120_000
const CONVERGE_LIMIT_MS = 240_000
/** The columns of the per-fault table, in order. */
export const FAULT_COLUMNS = ['accepted', 'ACTIVE', 'ERROR', 'duplicated', 'leaked', 'lost', 'detectionMs', 'convergenceMs'] as const

/**
 * `npm run bench -- faults [SCENARIO...]`: issue #9's fault scenarios (bench/fault-injectors.ts)
 * over one production federation (real processes, MariaDB, RabbitMQ): a burst of 20 boots, the fault
 * injected mid-burst, then the census against the leaves' own databases and two times from the
 * injection: detection (the federation noticed; per fault, bench/NOTES.md) and convergence (every
 * accepted build ACTIVE or ERROR in the index and the index equal to the leaves). Figures are
 * `SCENARIO.COLUMN`; scenarios not run this time keep their last figures.
 */
export async function benchFaults(names: readonly string[] = process.argv.slice(3)): Promise<Figures> {
  const chosen = names.length === 0 ? FAULTS : FAULTS.filter((f) => names.includes(f.name))
  const unknown = names.filter((n) => !FAULTS.some((f) => f.name === n))
  if (unknown.length > 0) throw new Error(`unknown fault scenario ${unknown.join(', ')} (known: ${FAULTS.map((f) => f.name).join(', ')})`)
  const out: Figures = { ...previous() }
  const fed = await startProduction()
  try {
    const admin = await login(fed.identityUrl, 'admin', 'secret-admin-pw', 'admin')
    const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id as string
    const under: Federation = { admin, computeUrl: fed.computeUrl, imageRef, prefix: fed.prefix, leaves: DEPLOY_LEAVES }
    const quota = await call(admin, 'PUT', `${fed.computeUrl}/os-quota-sets/${admin.projectId}`, { quota_set: { instances: 500, cores: 1000, ram: 10_000_000 } })
    if (quota.status !== 200) throw new Error(`quota: ${quota.status}`)
    for (const s of chosen) {
      process.stdout.write(`  ${s.name}...\n`)
      for (const k of Object.keys(out)) if (k.startsWith(`${s.name}.`)) delete out[k]
      Object.assign(out, await runScenario(fed, under, s))
    }
  } finally {
    await fed.stop()
  }
  process.stdout.write(`${faultTable(out).join('\n')}\n`)
  return out
}

/** One scenario: burst, fault, detection and convergence timed from the injection, census. */
async function runScenario(fed: ProductionFederation, under: Federation, s: FaultScenario): Promise<Figures> {
  const start = Date.now()
  let answeredAt = 0
  const replies = bootBurst(under, s.name, BURST).then((r) => {
    answeredAt = Date.now()
    return r
  })
  if (s.when === 'mid') await sleep(150)
  if (s.when === 'after') await replies
  if (s.when === 'in-leaf') await waitFor('a build of the burst in a leaf', async () => ((await inLeaves(under, s.name)) > 0 ? true : undefined), 60_000)
  const injected = await s.inject({ fed, under, burst: s.name })
  const t0 = injected.at
  const inLeavesAtInjection = await inLeaves(under, s.name)
  const detection = injected.detected(DETECT_LIMIT_MS).then(
    () => Date.now() - t0,
    () => undefined,
  )
  const ended = injected.end()
  const answered = await replies
  const ids = acceptedIds(answered)
  const refused = answered.filter((r) => r.status !== 202).map((r) => r.status)
  let last: Census | undefined
  let convergedMs: number | undefined
  while (Date.now() - t0 < CONVERGE_LIMIT_MS) {
    last = await convergedNow(under, ids).catch(() => undefined)
    if (last !== undefined) {
      convergedMs = Date.now() - t0
      break
    }
    await sleep(250)
  }
  const detectedMs = await detection
  await ended
  const f: Figures = {}
  const p = `${s.name}.`
  f[`${p}accepted`] = ids.length
  if (refused.length > 0) f[`${p}refused`] = refused.join(' ')
  const c = last ?? (await settledCensus(under, ids))
  f[`${p}ACTIVE`] = c.active
  f[`${p}ERROR`] = c.error
  f[`${p}duplicated`] = c.duplicated
  f[`${p}leaked`] = c.leaked
  f[`${p}lost`] = c.lost
  f[`${p}detectionMs`] = detectedMs ?? `not within ${DETECT_LIMIT_MS}`
  f[`${p}convergenceMs`] = convergedMs ?? `not within ${CONVERGE_LIMIT_MS}`
  f[`${p}target`] = injected.target
  for (const [k, v] of Object.entries(injected.extra)) f[`${p}${k}`] = v
  f[`${p}placed`] = placement(under, ids)
  // Where in the burst the fault struck: its builds already in a leaf, and when its boots were answered.
  f[`${p}inLeavesAtInjection`] = inLeavesAtInjection
  f[`${p}injectedAfterBurstStartMs`] = t0 - start
  f[`${p}burstAnsweredAfterStartMs`] = answeredAt - start
  return f
}

/** The census as the API shows it now, when convergence was not reached. */
async function settledCensus(under: Federation, ids: readonly string[]): Promise<Census> {
  const shown = new Map<string, any>()
  for (const id of ids) {
    const r = await call(under.admin, 'GET', `${under.computeUrl}/servers/${id}`)
    if (r.status === 200) shown.set(id, r.body.server)
  }
  return census(under, ids, shown)
}

/** Where the accepted builds live now, per leaf (e.g. `dc1 7, dc2 6, region-two 7`). */
function placement(under: Federation, ids: readonly string[]): string {
  const wanted = new Set(ids)
  return [...leafStates(under)]
    .map(([leaf, m]) => `${leaf.split('!').pop() ?? leaf} ${[...m.keys()].filter((u) => wanted.has(u)).length}`)
    .join(', ')
}

const inLeaves = async (under: Federation, name: string): Promise<number> => [...(await burstInLeaves(under, name)).values()].reduce((a, b) => a + b, 0)

/** The figures of the last run (scenarios not re-run keep them). */
function previous(): Figures {
  const file = join(packageRoot(), 'bench', 'results', 'faults.json')
  if (!existsSync(file)) return {}
  return (JSON.parse(readFileSync(file, 'utf8')) as { figures: Figures }).figures
}

/** The figures as one row per fault (markdown), for the console and bench/RESULTS.md. */
export function faultTable(figures: Figures): string[] {
  const scenarios = FAULTS.map((f) => f.name).filter((n) => figures[`${n}.accepted`] !== undefined)
  const lines = [`| fault | ${FAULT_COLUMNS.join(' | ')} |`, `|---|${FAULT_COLUMNS.map(() => '---').join('|')}|`]
  for (const n of scenarios) lines.push(`| ${n} | ${FAULT_COLUMNS.map((c) => String(figures[`${n}.${c}`] ?? '')).join(' | ')} |`)
  return lines
}
