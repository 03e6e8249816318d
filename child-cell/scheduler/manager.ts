import type { Kysely } from 'kysely'
import { requireCaller } from '../../shared/bus/caller.js'
import type { MessageBus, Subscription } from '../../shared/bus/message-bus.js'
import type { RequestContext } from '../../shared/context.js'
import { InvalidError, NoValidHostError } from '../../shared/errors.js'
import type { Logger } from '../../shared/logging.js'
import { noValidHostReason, select } from '../../shared/scheduling/pipeline.js'
import type { Filter, Weigher } from '../../shared/scheduling/plugin.js'
import type { GroupClaim } from '../db/claims.js'
import { claimResources, groupHostCounts } from '../db/claims.js'
import type { CellSchema } from '../db/schema.js'
import type { HostState, RequestSpec } from './host-state.js'
import { requestedDiskGb } from './host-state.js'
import { HostStateCache } from './host-state-cache.js'
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
  /** Reuse host states this long (0: read the cell DB for every decision); see HostStateCache. */
  readonly hostStateCacheMs?: number
}

/** Ranked hosts a decision returns: the winner and alternates to claim on after a lost race. */
const ALTERNATES = 8

/**
 * The host scheduler of a leaf cell: filters and weighs host states, then claims on the winner
 * with a conditional write. Losing a race to another scheduler process only moves on to the next
 * candidate; the database guarantees no host is ever over-committed, and (with a hard server-group
 * policy) that the group's per-host member counters are never exceeded.
 */
export class SchedulerManager {
  readonly #db: Kysely<CellSchema>
  readonly #bus: MessageBus
  readonly #s: SchedulerSettings
  readonly #log: Logger
  readonly #hosts: HostStateCache
  #sub: Subscription | undefined

  constructor(args: { readonly db: Kysely<CellSchema>; readonly bus: MessageBus; readonly settings: SchedulerSettings; readonly log: Logger }) {
    this.#db = args.db
    this.#bus = args.bus
    this.#s = args.settings
    this.#log = args.log
    this.#hosts = new HostStateCache({ db: args.db, serviceDownMs: args.settings.serviceDownMs, ttlMs: args.settings.hostStateCacheMs ?? 0 })
  }

  async start(): Promise<void> {
    this.#sub = await this.#bus.serve({
      topic: SCHEDULER_TOPIC,
      fanout: false,
      handler: (ctx, method, args, caller) => {
        // Only the conductor asks for placements (a placement claims resources).
        requireCaller(caller, 'scheduler', ['conductor', 'operator'])
        if (method === 'select_destination') return this.selectDestination(ctx, args as RequestSpec)
        throw new InvalidError(`scheduler has no method ${method}`)
      },
    })
  }

  async stop(): Promise<void> {
    await this.#sub?.close()
    this.#sub = undefined
  }

  /**
   * Picks a host and claims the flavor's resources on it (and the server group's slot, for a hard
   * policy). Idempotent: an instance that already holds a claim gets that claim's host back.
   */
  async selectDestination(ctx: RequestContext, request: RequestSpec): Promise<Selection> {
    const lost: string[] = []
    let lastReason = ''
    let spec = await this.#withCellMembers(request)
    const need = { memoryMb: spec.flavor.memoryMb, vcpus: spec.flavor.vcpus, diskGb: requestedDiskGb(spec.flavor) }
    for (let round = 0; round < this.#s.maxClaimRounds; round += 1) {
      const hosts = await this.#hosts.get()
      const decision = select({
        candidates: hosts,
        spec: lost.length === 0 ? spec : { ...spec, ignoreHosts: [...spec.ignoreHosts, ...lost] },
        filters: this.#s.filters,
        weighers: this.#s.weighers,
        subsetSize: this.#s.hostSubsetSize,
        limit: ALTERNATES,
      })
      if (decision.ranked.length === 0) {
        lastReason = noValidHostReason(decision)
        break
      }
      for (const { candidate } of decision.ranked) {
        const group = hardGroup(spec, candidate.host)
        // Counted before the claim returns, so that requests this scheduler decides meanwhile see
        // it (with a host-state cache); a lost claim drops the cached view anyway.
        this.#hosts.consumed(candidate.nodeId, need)
        const claim = await claimResources(this.#db, {
          instanceUuid: spec.instanceUuid,
          nodeId: candidate.nodeId,
          ...need,
          ...(group === undefined ? {} : { group }),
        })
        if (claim.claimed) {
          if (claim.nodeId !== candidate.nodeId) {
            this.#hosts.invalidate()
            return this.#selectionOf(claim.nodeId, spec.instanceUuid)
          }
          this.#log.info({ requestId: ctx.requestId, instance: spec.instanceUuid, host: candidate.host }, 'claimed resources on host')
          return { host: candidate.host, nodeId: candidate.nodeId, nodeName: candidate.host, availabilityZone: candidate.availabilityZone }
        }
        lost.push(candidate.host)
        this.#hosts.invalidate()
      }
      lastReason = `claims lost on ${lost.join(', ')}`
      // A concurrent member of the same group may be what beat us: decide again with its host.
      if (group0(spec) !== undefined) spec = await this.#withCellMembers(request)
    }
    // A retried request whose first attempt claimed, then lost its reply, still holds the claim.
    const held = await this.#db.selectFrom('allocations').select('node_id').where('instance_uuid', '=', spec.instanceUuid).executeTakeFirst()
    if (held !== undefined) return this.#selectionOf(held.node_id, spec.instanceUuid)
    throw new NoValidHostError(`No valid host was found. ${lastReason}`.trim(), { instance: spec.instanceUuid })
  }

  /**
   * The request with the group's members in this cell as the cell DB counts them (authoritative
   * and current, where the list from the API may lag behind concurrent builds), merged with the
   * API's list: per host, the larger of the two counts.
   */
  async #withCellMembers(spec: RequestSpec): Promise<RequestSpec> {
    const group = group0(spec)
    if (group === undefined) return spec
    const counted = await groupHostCounts(this.#db, group.uuid)
    if (counted.size === 0) return spec
    const fromApi = new Map<string, number>()
    for (const h of group.hosts) fromApi.set(h, (fromApi.get(h) ?? 0) + 1)
    for (const [h, n] of counted) fromApi.set(h, Math.max(n, fromApi.get(h) ?? 0))
    const hosts = [...fromApi].flatMap(([h, n]) => Array.from({ length: n }, () => h))
    return { ...spec, group: { ...group, hosts } }
  }

  async #selectionOf(nodeId: number, instanceUuid: string): Promise<Selection> {
    const node = await this.#db.selectFrom('compute_nodes').select(['host', 'availability_zone']).where('id', '=', nodeId).executeTakeFirst()
    if (node === undefined) throw new NoValidHostError(`No valid host was found. The claimed node ${nodeId} is gone`, { instance: instanceUuid })
    return { host: node.host, nodeId, nodeName: node.host, availabilityZone: node.availability_zone }
  }
}

/** The request's group when its policy is hard (the ones the claim enforces). */
function group0(spec: RequestSpec): NonNullable<RequestSpec['group']> | undefined {
  const g = spec.group
  return g !== undefined && (g.policy === 'affinity' || g.policy === 'anti-affinity') ? g : undefined
}

function hardGroup(spec: RequestSpec, host: string): GroupClaim | undefined {
  const g = group0(spec)
  if (g === undefined) return undefined
  return { uuid: g.uuid, policy: g.policy as GroupClaim['policy'], maxServerPerHost: g.maxServerPerHost ?? 1, host }
}
