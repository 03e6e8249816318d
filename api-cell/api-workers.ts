import cluster from 'node:cluster'
import type { Worker } from 'node:cluster'
import type { RequestContext } from '../shared/context.js'
import type { Logger } from '../shared/logging.js'
import type { BuildQueue } from './scheduler/build-dispatcher.js'

/**
 * What one API worker is: the first (`dispatcher`) places every build, as a single API process
 * does; the others (`acceptor`) serve requests and forward the builds they accept to it.
 */
export type ApiWorkerRole = 'dispatcher' | 'acceptor'

/** A build forwarded between workers (through the primary, over the cluster's IPC channel). */
interface ForwardedBuild {
  readonly type: 'build'
  readonly ctx: RequestContext
  readonly uuids: readonly string[]
  readonly reservation: boolean
}

/** Set by the primary for each worker it forks (not a user setting). */
const ROLE_ENV = 'CELLS_INTERNAL_API_WORKER_ROLE'

/** A running API in one process, as {@link runApiWorkers} starts it. */
export interface ApiWorkerRuntime {
  /** Where builds forwarded by the other workers go (the dispatcher's own queue). */
  readonly queue: BuildQueue
  /** What the primary learns of the dispatcher once it serves (its URLs, say): plain JSON. */
  readonly info?: unknown
  stop(): Promise<void>
}

/** The API as the caller of {@link runApiWorkers} holds it. */
export interface ApiWorkers {
  /** The dispatcher's {@link ApiWorkerRuntime.info} (in the primary, or the one process). */
  readonly info?: unknown
  stop(): Promise<void>
}

/**
 * `--workers N` (Nova's `osapi_compute_workers`): N processes (node:cluster) share the API's
 * listening sockets, so that requests spread over the cores. The primary only forks, forwards and
 * restarts: it serves nothing. Worker 1 dispatches builds, exactly as one API process does (and
 * re-drives pending ones when it starts again); the others forward the builds they accept to it.
 * A forwarded build that is lost (the dispatcher died) is still a pending build request, which the
 * restarted dispatcher re-drives. Workers start one after the other, so that only one runs the
 * database migrations and bootstrap at a time.
 *
 * With N = 1 the API runs in this process, as before. `start` is called in each worker with
 * `forward` (acceptors) or without (the dispatcher) and must stop on `stop()`.
 */
export async function runApiWorkers(args: {
  readonly workers: number
  readonly log: Logger
  readonly start: (forward: BuildQueue | undefined) => Promise<ApiWorkerRuntime>
}): Promise<ApiWorkers> {
  if (args.workers <= 1) return args.start(undefined)
  if (cluster.isPrimary) return primary(args.workers, args.log)
  return worker(args.start)
}

async function worker(start: (forward: BuildQueue | undefined) => Promise<ApiWorkerRuntime>): Promise<ApiWorkers> {
  const role = process.env[ROLE_ENV] === 'dispatcher' ? 'dispatcher' : 'acceptor'
  const send = (m: ForwardedBuild): void => {
    // Lost only when the primary is gone: the build request stays pending for the next dispatcher.
    process.send?.(m)
  }
  const forward: BuildQueue = {
    enqueue: (ctx, uuid) => send({ type: 'build', ctx, uuids: [uuid], reservation: false }),
    enqueueReservation: (ctx, uuids) => send({ type: 'build', ctx, uuids: [...uuids], reservation: true }),
  }
  const rt = await start(role === 'dispatcher' ? undefined : forward)
  if (role === 'dispatcher') {
    process.on('message', (m: ForwardedBuild) => {
      if (m?.type !== 'build') return
      if (m.reservation) rt.queue.enqueueReservation(m.ctx, m.uuids)
      else for (const u of m.uuids) rt.queue.enqueue(m.ctx, u)
    })
  }
  // The primary gone (killed): nothing restarts or forwards for this worker any more.
  process.once('disconnect', () => void rt.stop().finally(() => process.exit(0)))
  process.send?.({ type: 'ready', info: rt.info })
  return rt
}

async function primary(n: number, log: Logger): Promise<ApiWorkers> {
  let stopping = false
  const roles = new Map<Worker, ApiWorkerRole>()
  let dispatcher: Worker | undefined
  let info: unknown
  const fork = (role: ApiWorkerRole): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork({ [ROLE_ENV]: role })
      roles.set(w, role)
      if (role === 'dispatcher') dispatcher = w
      const onExit = (code: number | null): void => reject(new Error(`API worker (${role}) exited with ${String(code)} while starting`))
      w.once('exit', onExit)
      w.on('message', (m: { type?: string; info?: unknown }) => {
        if (m?.type === 'ready') {
          if (role === 'dispatcher') info = m.info
          w.off('exit', onExit)
          resolve(w)
        } else if (m?.type === 'build') {
          // To the dispatcher; when it is down the build request waits for its restart.
          if (dispatcher?.isConnected() === true) dispatcher.send(m)
        }
      })
    })
  cluster.on('exit', (w, code, signal) => {
    const role = roles.get(w)
    roles.delete(w)
    if (stopping || role === undefined) return
    log.error({ pid: w.process.pid, role, code, signal }, 'API worker exited: starting another')
    fork(role).catch((err: unknown) => log.error({ role, err: String(err) }, 'API worker restart failed'))
  })
  try {
    await fork('dispatcher')
    for (let i = 1; i < n; i += 1) await fork('acceptor')
  } catch (err) {
    stopping = true
    for (const w of roles.keys()) w.kill('SIGTERM')
    throw err
  }
  log.info({ workers: n }, 'API workers serving')
  return {
    info,
    stop: async () => {
      stopping = true
      await Promise.all(
        [...roles.keys()].map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve()
              w.once('exit', () => resolve())
              w.kill('SIGTERM')
            }),
        ),
      )
    },
  }
}
