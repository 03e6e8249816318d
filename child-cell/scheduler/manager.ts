import type { Kysely } from 'kysely'
import type { MessageBus, Subscription } from '../../shared/bus/message-bus.js'
import type { RequestContext } from '../../shared/context.js'
import { InvalidError, NoValidHostError } from '../../shared/errors.js'
import type { Logger } from '../../shared/logging.js'
import { noValidHostReason, select } from '../../shared/scheduling/pipeline.js'
import type { Filter, Weigher } from '../../shared/scheduling/plugin.js'
import { claimResources } from '../db/claims.js'
import type { CellSchema } from '../db/schema.js'
import type { HostState, RequestSpec } from './host-state.js'
import { requestedDiskGb } from './host-state.js'
import { loadHostStates } from './host-states.js'
import type { Selection } from './rpc-api.js'
import { SCHEDULER_TOPIC } from './rpc-api.js'

/** Settings of a cell's host scheduler. */
export interface SchedulerSettings {
  readonly filters: readonly Filter<HostState, RequestSpec>[]
  readonly weighers: readonly Weigher<HostState, RequestSpec>[]
  readonly hostSubsetSize: number
  readonly serviceDownMs: number
  /** How many times a lost claim race re-reads the hosts and decides again. */
  readonly maxClaimRounds: number
}

/**
 * The host scheduler of a leaf cell: filters and weighs fresh host states, then claims on the
 * winner with a conditional write. Losing a race to another scheduler process only moves on to the
 * next candidate; the database guarantees no host is ever over-committed.
 */
export class SchedulerManager {
  readonly #db: Kysely<CellSchema>
  readonly #bus: MessageBus
  readonly #s: SchedulerSettings
  readonly #log: Logger
  #sub: Subscription | undefined

  constructor(args: { readonly db: Kysely<CellSchema>; readonly bus: MessageBus; readonly settings: SchedulerSettings; readonly log: Logger }) {
    this.#db = args.db
    this.#bus = args.bus
    this.#s = args.settings
    this.#log = args.log
  }

  async start(): Promise<void> {
    this.#sub = await this.#bus.serve({
      topic: SCHEDULER_TOPIC,
      fanout: false,
      handler: (ctx, method, args) => {
        if (method === 'select_destination') return this.selectDestination(ctx, args as RequestSpec)
        throw new InvalidError(`scheduler has no method ${method}`)
      },
    })
  }

  async stop(): Promise<void> {
    await this.#sub?.close()
    this.#sub = undefined
  }

  /** Picks a host and claims the flavor's resources on it. */
  async selectDestination(ctx: RequestContext, spec: RequestSpec): Promise<Selection> {
    const lost: string[] = []
    let lastReason = ''
    for (let round = 0; round < this.#s.maxClaimRounds; round += 1) {
      const hosts = await loadHostStates(this.#db, this.#s.serviceDownMs)
      const decision = select({
        candidates: hosts,
        spec: lost.length === 0 ? spec : { ...spec, ignoreHosts: [...spec.ignoreHosts, ...lost] },
        filters: this.#s.filters,
        weighers: this.#s.weighers,
        subsetSize: this.#s.hostSubsetSize,
        limit: 8,
      })
      if (decision.ranked.length === 0) {
        lastReason = noValidHostReason(decision)
        break
      }
      for (const { candidate } of decision.ranked) {
        const ok = await claimResources(this.#db, {
          instanceUuid: spec.instanceUuid,
          nodeId: candidate.nodeId,
          memoryMb: spec.flavor.memoryMb,
          vcpus: spec.flavor.vcpus,
          diskGb: requestedDiskGb(spec.flavor),
        })
        if (ok) {
          this.#log.info({ requestId: ctx.requestId, instance: spec.instanceUuid, host: candidate.host }, 'claimed resources on host')
          return { host: candidate.host, nodeId: candidate.nodeId, nodeName: candidate.host, availabilityZone: candidate.availabilityZone }
        }
        lost.push(candidate.host)
      }
      lastReason = `claims lost on ${lost.join(', ')}`
    }
    throw new NoValidHostError(`No valid host was found. ${lastReason}`.trim(), { instance: spec.instanceUuid })
  }
}
