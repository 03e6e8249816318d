import { execFileSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Federation } from './exactly-once.js'
import { burstInLeaves, DEPLOY_LEAVES, mysql, slug } from './exactly-once.js'
import { call, waitFor } from './os-client.js'
import type { ProductionFederation } from './production-rig.js'

/**
 * The faults of issue #9 as injectors over a production federation, shared by
 * test/integration/faults.test.ts and `npm run bench -- faults`. Each injects its fault and returns
 * how to tell that the federation noticed it (`detected`, resolving when it did), and how to end the
 * fault when it lasts (`end`). What "noticed" means is per fault (bench/NOTES.md, Faults).
 */
export interface Injected {
  /** Resolves once the federation noticed the fault (polling; rejects after `timeoutMs`). */
  detected(timeoutMs?: number): Promise<void>
  /** Ends a lasting fault (SIGCONT, the broker started again); a no-op for the others. */
  end(): Promise<void>
  /** Figures the fault adds (e.g. the region's return time), in ms, filled by `end`. */
  readonly extra: Record<string, number>
  /** What the fault hit (a process, a region, the broker), for the report. */
  readonly target: string
  /** The processes it killed or stopped. */
  readonly victims: readonly number[]
  /** When the fault struck (Date.now()): detection and convergence are counted from it. */
  readonly at: number
}

export interface FaultContext {
  readonly fed: ProductionFederation
  readonly under: Federation
  /** The burst's name: its servers are `BURST-N`. */
  readonly burst: string
}

/** A fault scenario: when in the burst it strikes, and the injector. */
export interface FaultScenario {
  readonly name: string
  /** `mid`: 150 ms into the burst; `in-leaf`: once a build of the burst reached a leaf; `after`: once every boot was answered. */
  readonly when: 'mid' | 'in-leaf' | 'after'
  inject(ctx: FaultContext): Promise<Injected>
}

const none = async (): Promise<void> => undefined

/** Established connections to the broker (local address -> pid) of the federation's processes. */
export function brokerConnections(fed: ProductionFederation): Map<string, number> {
  const ours = new Set(fed.pids())
  const out = new Map<string, number>()
  const ss = execFileSync('ss', ['-tnpH', 'state', 'established', '( dport = :5672 )'], { encoding: 'utf8' })
  for (const line of ss.split('\n')) {
    const cols = line.trim().split(/\s+/)
    const pid = Number(/pid=(\d+)/.exec(line)?.[1] ?? NaN)
    if (cols.length >= 4 && ours.has(pid)) out.set(cols[2] ?? '', pid)
  }
  return out
}

/** Every process that had a broker connection in `before` has a new one (not in `before`). */
function reconnected(fed: ProductionFederation, before: ReadonlyMap<string, number>): boolean {
  const now = brokerConnections(fed)
  const fresh = new Set([...now].filter(([addr]) => !before.has(addr)).map(([, pid]) => pid))
  return [...new Set(before.values())].every((pid) => fresh.has(pid) || !fed.pids().includes(pid))
}

/** TCP ports `pid` listens on. */
function listening(pid: number): number[] {
  const ss = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' })
  return ss
    .split('\n')
    .filter((l) => l.includes(`pid=${pid},`))
    .map((l) => Number((l.trim().split(/\s+/)[3] ?? '').split(':').pop()))
}

const poll = (what: string, fn: () => Promise<boolean> | boolean) => (timeoutMs = 120_000) =>
  waitFor(what, async () => ((await fn()) ? true : undefined), timeoutMs).then(() => undefined)

/** The vhosts of the federation's cells. */
export function federationVhosts(fed: ProductionFederation): string[] {
  return execFileSync('rabbitmqctl', ['-q', 'list_vhosts'], { encoding: 'utf8' })
    .split('\n')
    .filter((v) => v.startsWith(`${fed.prefix}.`))
}

/**
 * kill -9 of one supervised process (`parts` pick it), noticed once the supervisor's new process
 * for the same role serves: `serving(pid)` says when.
 */
function killRestarted(
  name: string,
  when: FaultScenario['when'],
  which: (ctx: FaultContext) => Promise<string[]> | string[],
  serving: (ctx: FaultContext, pid: number) => Promise<boolean> | boolean,
): FaultScenario {
  return {
    name,
    when,
    inject: async (ctx) => {
      const parts = await which(ctx)
      const [victim] = ctx.fed.pids(...parts)
      if (victim === undefined) throw new Error(`no process ${parts.join(' ')}`)
      const at = Date.now()
      process.kill(victim, 'SIGKILL')
      return {
        at,
        extra: {},
        target: parts.join(' ').trim(),
        victims: [victim],
        end: none,
        detected: poll(`${name}: the restarted process serving`, async () => {
          for (const p of ctx.fed.pids(...parts).filter((x) => x !== victim)) if (await serving(ctx, p)) return true
          return false
        }),
      }
    },
  }
}

/** The leaf holding the burst's first build to reach one (waits for it): where the burst goes. */
export async function burstLeaf(ctx: FaultContext): Promise<string> {
  return waitFor(
    `a build of ${ctx.burst} in a leaf`,
    async () => [...(await burstInLeaves(ctx.under, ctx.burst))].find(([, n]) => n > 0)?.[0],
    60_000,
  )
}

/** The intermediate cell's agent (region one's): back when its new process listens (gRPC) again. */
export const agentKill = killRestarted('agent-kill', 'mid', () => ['--role agent', '--cell api!region-one '], (_ctx, pid) => listening(pid).length > 0)

/**
 * The conductor of the leaf the burst goes to (once its first build is there, the rest queued or on
 * the way): back when its new process holds a broker connection (its consumer).
 */
export const conductorKill = killRestarted(
  'conductor-kill',
  'mid',
  async (ctx) => ['--role conductor', `--cell ${await burstLeaf(ctx)} `],
  (ctx, pid) => [...brokerConnections(ctx.fed).values()].includes(pid),
)

/** The API process right after accepting: back when the new one answers `GET /servers`. */
export const apiKill = killRestarted(
  'api-kill',
  'after',
  () => ['api-cell/main.js'],
  async (ctx) => (await call(ctx.under.admin, 'GET', `${ctx.under.computeUrl}/servers`).catch(() => undefined))?.status === 200,
)

/** RabbitMQ closes every connection of the cells' vhosts: noticed once every process reconnected. */
export const brokerClose: FaultScenario = {
  name: 'broker-close',
  when: 'mid',
  inject: async (ctx) => {
    const before = brokerConnections(ctx.fed)
    const vhosts = federationVhosts(ctx.fed)
    const at = Date.now()
    for (const v of vhosts) execFileSync('rabbitmqctl', ['-q', 'close_all_connections', '--vhost', v, 'fault injected'], { encoding: 'utf8' })
    return { extra: {}, at, target: 'every connection of the vhosts', victims: [], end: none, detected: poll('broker-close: every process reconnected', () => reconnected(ctx.fed, before)) }
  },
}

/**
 * The shared RabbitMQ stopped (`stop_app`) for a second and started again: noticed once every
 * process reconnected (so from the stop, the second of outage included). Other engineers' tests
 * share this broker: run it once, when they are quiet.
 */
export const brokerRestart: FaultScenario = {
  name: 'broker-restart',
  when: 'in-leaf',
  inject: async (ctx) => {
    const before = brokerConnections(ctx.fed)
    const at = Date.now()
    execFileSync('rabbitmqctl', ['-q', 'stop_app'], { encoding: 'utf8' })
    try {
      await sleep(1000)
    } finally {
      execFileSync('rabbitmqctl', ['-q', 'start_app'], { encoding: 'utf8' })
    }
    return { extra: {}, at, target: 'rabbitmqctl stop_app, 1 s, start_app', victims: [], end: none, detected: poll('broker-restart: every process reconnected', () => reconnected(ctx.fed, before)) }
  },
}

/** MariaDB connections of the federation (id, schema). */
function dbConnections(prefix: string): Array<{ id: number; db: string }> {
  return mysql(`SELECT ID, DB FROM information_schema.PROCESSLIST WHERE DB LIKE '${prefix}\\_%'`)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [id, db] = l.split('\t')
      return { id: Number(id), db: (db ?? '').trim() }
    })
}

/** KILLs every MariaDB connection of the federation (its schemas start with `prefix`); those it killed. */
export function killFederationConnections(prefix: string): Array<{ id: number; db: string }> {
  const killed = dbConnections(prefix)
  for (const c of killed) {
    try {
      mysql(`KILL ${c.id}`)
    } catch {
      // already gone
    }
  }
  return killed
}

/**
 * Every MariaDB connection of the federation KILLed: noticed once the API cell's schema and every
 * leaf's schema has a new connection again (the pools reconnected).
 */
export const dbKill: FaultScenario = {
  name: 'db-kill',
  when: 'mid',
  inject: async (ctx) => {
    const at = Date.now()
    const killed = killFederationConnections(ctx.fed.prefix)
    const top = Math.max(0, ...killed.map((c) => c.id))
    const schemas = [`${ctx.fed.prefix}_api`, ...DEPLOY_LEAVES.map((l) => `${ctx.fed.prefix}_${slug(l)}`)]
    return {
      at,
      extra: { killedConnections: killed.length },
      target: 'every MariaDB connection of the federation',
      victims: [],
      end: none,
      detected: poll('db-kill: the pools reconnected', () => {
        const fresh = new Set(dbConnections(ctx.fed.prefix).filter((c) => c.id > top).map((c) => c.db))
        return schemas.every((s) => fresh.has(s))
      }),
    }
  },
}

/** Whether the API lists `region` in `X-Federation-Cells-Down` of `GET /os-hypervisors`. */
async function listedDown(ctx: FaultContext, region: string): Promise<boolean> {
  const r = await call(ctx.under.admin, 'GET', `${ctx.under.computeUrl}/os-hypervisors`)
  return (r.headers.get('x-federation-cells-down') ?? '').split(',').some((c) => c.trim() === region)
}

/**
 * Resolves when a reply names `region` down, with requests sent every 200 ms without waiting for the
 * previous one (a request in flight can wait on the not-yet-down region until its deadline; the
 * federation's knowledge shows in the first reply that names it, whichever request it answers).
 */
function whenListedDown(ctx: FaultContext, region: string) {
  return (timeoutMs = 120_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const end = Date.now() + timeoutMs
      let done = false
      const tick = (): void => {
        if (done) return
        if (Date.now() > end) {
          done = true
          reject(new Error(`${region} not listed down within ${timeoutMs} ms`))
          return
        }
        listedDown(ctx, region).then(
          (down) => {
            if (down && !done) {
              done = true
              resolve()
            }
          },
          () => undefined,
        )
        setTimeout(tick, 200)
      }
      tick()
    })
}

/**
 * The processes of the region the burst goes to (once its first build is in a leaf) SIGSTOPped
 * (hung, not crashed) for `holdMs`: noticed once the API names it in `X-Federation-Cells-Down` on
 * /os-hypervisors. `end` (SIGCONT) also times its return: `backMs`, from SIGCONT to the header no
 * longer naming it.
 */
export function regionStop(holdMs = 20_000): FaultScenario {
  return {
    name: 'region-stop',
    when: 'mid',
    inject: async (ctx) => {
      const region = (await burstLeaf(ctx)).split('!').slice(0, 2).join('!')
      const pids = ctx.fed.pids(`--cell ${region}`)
      if (pids.length === 0) throw new Error(`no process of ${region}`)
      const stoppedAt = Date.now()
      for (const p of pids) process.kill(p, 'SIGSTOP')
      const extra: Record<string, number> = {}
      return {
        at: stoppedAt,
        extra,
        target: `every process of ${region}`,
        victims: pids,
        detected: whenListedDown(ctx, region),
        end: async () => {
          await sleep(Math.max(0, stoppedAt + holdMs - Date.now()))
          for (const p of pids) process.kill(p, 'SIGCONT')
          const at = Date.now()
          await poll(`${region} back`, async () => !(await listedDown(ctx, region)))()
          extra['backMs'] = Date.now() - at
        },
      }
    },
  }
}

/** Every scenario, in the order the benchmark runs them (the broker restart last). */
export const FAULTS: readonly FaultScenario[] = [agentKill, brokerClose, conductorKill, apiKill, dbKill, regionStop(), brokerRestart]
