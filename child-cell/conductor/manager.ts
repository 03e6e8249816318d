import type { Kysely } from 'kysely'
import type { MessageBus, Subscription } from '../../shared/bus/message-bus.js'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../shared/context.js'
import { systemContext } from '../../shared/context.js'
import { InvalidError } from '../../shared/errors.js'
import type { Logger } from '../../shared/logging.js'
import { createLogger } from '../../shared/logging.js'
import type { CellSchema } from '../db/schema.js'
import { AgentApi } from '../agent/rpc-api.js'
import { ComputeApi } from '../compute/rpc-api.js'
import { SchedulerApi } from '../scheduler/rpc-api.js'
import type { ConductorDeps } from './deps.js'
import { authorizeConductorCall } from './caller-policy.js'
import { InstanceStore } from './instance-store.js'
import { instanceAction } from './operations/actions.js'
import { ADMIN_OPERATIONS } from './operations/admin.js'
import { listActions } from './operations/actions-log.js'
import { buildInstance } from './operations/build.js'
import { instancesOnHost } from './operations/build-specs.js'
import { recoverStuckMoves } from './operations/move-recovery.js'
import { expireStuckSpawns, resumeStuckReschedules } from './operations/reschedule.js'
import { instanceDestroyed, instanceUpdate } from './operations/compute-reports.js'
import { computeNodeUpdate, getCapacity, listHosts, serviceHeartbeat } from './operations/hosts.js'
import { instanceVersions, staleVersions } from './operations/instance-versions.js'
import { offloadShelved } from './operations/lifecycle.js'
import { outboxAck, outboxFetch, relayEvents } from './operations/outbox.js'
import { CONDUCTOR_TOPIC } from './rpc-api.js'

/** A reschedule untouched this long was interrupted (a live one takes milliseconds). */
const STUCK_RESCHEDULE_MS = 60_000
/** Default of the conductor's `buildTimeoutMs`: ten minutes for a spawn (image download included). */
export const DEFAULT_BUILD_TIMEOUT_MS = 600_000

type Handler = (ctx: RequestContext, args: any) => Promise<unknown>

function adminHandler(d: ConductorDeps, method: string): Handler | undefined {
  if (!method.startsWith('admin_')) return undefined
  const op = ADMIN_OPERATIONS[method.slice('admin_'.length)]
  return op === undefined ? undefined : (ctx, args) => op(d, ctx, args)
}

/**
 * The conductor: the only service of a cell that writes its database on behalf of others (compute
 * has no database access). Serves {@link CONDUCTOR_TOPIC}; several conductors of one cell share
 * the work. Every call is authorised by its sender's bus identity first (see caller-policy.ts).
 */
export class ConductorManager {
  readonly #deps: ConductorDeps
  readonly #bus: MessageBus
  readonly #handlers: Readonly<Record<string, Handler>>
  #sub: Subscription | undefined
  #sweep: NodeJS.Timeout | undefined
  #buildSweep: NodeJS.Timeout | undefined
  #shelvedSweep: NodeJS.Timeout | undefined
  readonly #buildTimeoutMs: number

  constructor(args: {
    readonly db: Kysely<CellSchema>
    readonly bus: MessageBus
    readonly cellPath: string
    readonly serviceDownMs: number
    readonly log?: Logger
    /** Hosts one build may try in this cell before it goes back up (default 3, Nova's max_attempts). */
    readonly maxBuildAttempts?: number
    /**
     * A spawn that has not come back after this long is treated as failed on its host (Nova's
     * `instance_build_timeout`; 0: never). Default {@link DEFAULT_BUILD_TIMEOUT_MS}.
     */
    readonly buildTimeoutMs?: number
    /** Nova's `shelved_offload_time` in seconds (default 0: at once; -1: never). */
    readonly shelvedOffloadTimeS?: number
  }) {
    this.#bus = args.bus
    const d: ConductorDeps = {
      db: args.db,
      store: new InstanceStore({ db: args.db, cellPath: args.cellPath }),
      scheduler: new SchedulerApi(args.bus),
      compute: new ComputeApi(args.bus),
      agent: new AgentApi(args.bus),
      cellPath: args.cellPath,
      serviceDownMs: args.serviceDownMs,
      log: args.log ?? createLogger('conductor', { cell: args.cellPath }),
      maxBuildAttempts: args.maxBuildAttempts ?? 3,
      shelvedOffloadTimeS: args.shelvedOffloadTimeS ?? 0,
    }
    this.#deps = d
    this.#buildTimeoutMs = args.buildTimeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS
    this.#handlers = {
      build_instance: (ctx, a: BuildSpec) => buildInstance(d, ctx, a),
      instance_action: (ctx, a) => instanceAction(d, ctx, a),
      get_instances: async (_ctx, a: { uuids: string[] }) => {
        if (!Array.isArray(a.uuids) || a.uuids.length === 0) return []
        const rows = await d.db.selectFrom('instances').selectAll().where('uuid', 'in', a.uuids).execute()
        return rows.map((r) => d.store.toRecord(r))
      },
      list_actions: (_ctx, a: { uuid: string }) => listActions(d.db, a.uuid),
      instances_on_host: (_ctx, a: { host: string }) => instancesOnHost(d, a.host),
      instance_update: (ctx, a) => instanceUpdate(d, ctx, a),
      instance_destroyed: (ctx, a) => instanceDestroyed(d, ctx, a),
      service_heartbeat: (_ctx, a) => serviceHeartbeat(d, a),
      compute_node_update: (ctx, a) => computeNodeUpdate(d, ctx, a),
      get_capacity: (_ctx, a) => getCapacity(d, a.flavors ?? []),
      list_hosts: () => listHosts(d),
      outbox_fetch: (_ctx, a) => outboxFetch(d, a),
      outbox_ack: (_ctx, a) => outboxAck(d, Number(a.cursor)),
      relay_events: (_ctx, a) => relayEvents(d, a.events ?? []),
      instance_versions: (_ctx, a) => instanceVersions(d, a ?? {}),
      stale_versions: (_ctx, a) => staleVersions(d, Array.isArray(a?.versions) ? a.versions : []),
      get_state: async (_ctx, a: { key: string }) =>
        (await d.db.selectFrom('cell_state').select('value').where('key', '=', a.key).executeTakeFirst())?.value ?? null,
      set_state: async (_ctx, a: { key: string; value: string }) => {
        const res = await d.db.updateTable('cell_state').set({ value: a.value }).where('key', '=', a.key).executeTakeFirst()
        if (Number(res.numUpdatedRows) === 0) await d.db.insertInto('cell_state').values({ key: a.key, value: a.value }).execute()
      },
    }
  }

  /** The operations, for in-process callers and tests. */
  get deps(): ConductorDeps {
    return this.#deps
  }

  async start(): Promise<void> {
    // Reschedules a stopped conductor left half done are finished by whichever conductor runs.
    this.#sweep = setInterval(() => {
      resumeStuckReschedules(this.#deps, systemContext(), STUCK_RESCHEDULE_MS).catch((err: unknown) =>
        this.#deps.log.warn({ err: String(err) }, 'resuming interrupted reschedules failed'),
      )
      recoverStuckMoves(this.#deps, systemContext()).catch((err: unknown) => this.#deps.log.warn({ err: String(err) }, 'recovering interrupted moves failed'))
    }, STUCK_RESCHEDULE_MS)
    this.#sweep.unref()
    if (this.#buildTimeoutMs > 0) {
      this.#buildSweep = setInterval(() => {
        expireStuckSpawns(this.#deps, systemContext(), this.#buildTimeoutMs).catch((err: unknown) =>
          this.#deps.log.warn({ err: String(err) }, 'expiring stuck spawns failed'),
        )
      }, Math.max(250, Math.min(60_000, this.#buildTimeoutMs / 4)))
      this.#buildSweep.unref()
    }
    const offloadAfterS = this.#deps.shelvedOffloadTimeS ?? 0
    if (offloadAfterS > 0) {
      // Nova's _poll_shelved_instances: shelved instances past their time leave their hosts.
      this.#shelvedSweep = setInterval(() => {
        offloadShelved(this.#deps, systemContext(), offloadAfterS * 1000).catch((err: unknown) =>
          this.#deps.log.warn({ err: String(err) }, 'offloading shelved instances failed'),
        )
      }, Math.max(250, Math.min(60_000, (offloadAfterS * 1000) / 4)))
      this.#shelvedSweep.unref()
    }
    this.#sub = await this.#bus.serve({
      topic: CONDUCTOR_TOPIC,
      fanout: false,
      handler: async (ctx, method, args, caller) => {
        const h = this.#handlers[method] ?? adminHandler(this.#deps, method)
        if (h === undefined) throw new InvalidError(`conductor has no method ${method}`)
        // Who asks decides what may be done: compute hosts only for themselves (caller-policy.ts).
        await authorizeConductorCall(this.#deps.db, caller, method, args)
        return h(ctx, args)
      },
    })
  }

  async stop(): Promise<void> {
    if (this.#sweep !== undefined) clearInterval(this.#sweep)
    if (this.#buildSweep !== undefined) clearInterval(this.#buildSweep)
    if (this.#shelvedSweep !== undefined) clearInterval(this.#shelvedSweep)
    await this.#sub?.close()
    this.#sub = undefined
  }
}
