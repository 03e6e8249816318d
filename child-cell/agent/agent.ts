import { requireCaller } from '../../shared/bus/caller.js'
import type { MessageBus, Subscription } from '../../shared/bus/message-bus.js'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import type { ReconcileResult } from '../../shared/cell-link/anti-entropy.js'
import { AntiEntropyLoop } from '../../shared/cell-link/anti-entropy.js'
import { aggregate } from '../../shared/cell-link/capacity.js'
import type { CellTls } from '../../shared/cell-link/cell-tls.js'
import type { ChildEndpoint } from '../../shared/cell-link/child-watcher.js'
import { ChildWatcher } from '../../shared/cell-link/child-watcher.js'
import type { CellServer } from '../../shared/cell-link/grpc-server.js'
import { serveCell } from '../../shared/cell-link/grpc-server.js'
import type {
  BuildCall,
  BuildOutcome,
  CellAdminCall,
  CellCapacity,
  CellLink,
  CellUpdate,
  FlavorShape,
  InstanceActionCall,
  InstanceVersion,
  InstanceVersionPage,
  WatchArgs,
  WatchSource,
} from '../../shared/cell-link/types.js'
import { nextHop } from '../../shared/cell-link/types.js'
import type { PlacementOutcome } from '../../shared/cell-link/placement.js'
import { childDeadline, placeAcrossChildren, untilDefinite } from '../../shared/cell-link/placement.js'
import type { RequestContext } from '../../shared/context.js'
import { systemContext } from '../../shared/context.js'
import { CellUnreachableError, InvalidError, NotFoundError } from '../../shared/errors.js'
import type { Logger } from '../../shared/logging.js'
import { outboxLagSeconds, outboxPending } from '../../shared/metrics/cell-metrics.js'
import type { CellBuildRequest, CellRanking } from '../../shared/scheduling/cell-ranking.js'
import { cellBuildRequestOf } from '../../shared/scheduling/cell-ranking.js'
import { ConductorApi } from '../conductor/rpc-api.js'
import { AGENT_TOPIC } from './rpc-api.js'
import { ReportCoalescer } from './report-coalescer.js'

/** Settings of one cell agent. */
export interface AgentSettings {
  readonly cellPath: string
  /** `host:port` to serve the parent on (port 0: any). */
  readonly listenAddress: string
  /** This cell has compute hosts of its own (a leaf, or an intermediate cell with hosts). */
  readonly hasHosts: boolean
  readonly children: readonly ChildEndpoint[]
  readonly reportIntervalMs: number
  readonly downAfterMs: number
  /** How many children a build tries before this cell answers NACK. */
  readonly maxCellAttempts: number
  /** Ranks children for a build (the cell filters and weighers). */
  readonly rank: (candidates: readonly CellCapacity[], req: CellBuildRequest) => CellRanking
  /**
   * The weight offsets `rank` reads for the children, by path. The agent changes them when the
   * operator does (CellAdmin `set_child_weight_offset`), so the next build uses the new value.
   */
  readonly childWeightOffsets?: Map<string, number>
  /** This cell's TLS identity: serves the parent and dials the children with it (mutual TLS). */
  readonly tls: CellTls
  /** Period of the anti-entropy pass over the children (0 or absent: none; see anti-entropy.ts). */
  readonly antiEntropyIntervalMs?: number
}

/** The placement deadline of a build that arrives without one (a parent always sends one). */
const DEFAULT_BUILD_DEADLINE_MS = 60_000

interface Subscriber {
  cursor: number
  readonly emit: (u: CellUpdate) => void
  pumping: boolean
  again: boolean
}

/**
 * The cell agent: serves this cell to its parent over gRPC, and is the parent of its own
 * children. Builds go to the local conductor when the cell has hosts, else (or when they are full)
 * to the best child, then the next, until one accepts or attempts run out. Capacity and instance
 * events flow up through Watch streams.
 */
export class CellAgent implements CellLink, WatchSource {
  readonly #s: AgentSettings
  readonly #bus: MessageBus
  readonly #conductor: ConductorApi
  readonly #log: Logger
  readonly #watcher: ChildWatcher
  readonly #subs = new Set<Subscriber>()
  readonly #antiEntropy: AntiEntropyLoop
  #flavors: readonly FlavorShape[] = []
  #server: CellServer | undefined
  #busSub: Subscription | undefined
  #timer: NodeJS.Timeout | undefined
  /** Capacity changes reported on their event, coalesced to one report per 50 ms under load. */
  readonly #reportCoalescer = new ReportCoalescer({ gapMs: 50, run: () => void this.#report() })
  #disabled = false

  constructor(args: { readonly settings: AgentSettings; readonly bus: MessageBus; readonly log: Logger }) {
    this.#s = args.settings
    this.#bus = args.bus
    this.#log = args.log
    this.#conductor = new ConductorApi(args.bus)
    this.#watcher = new ChildWatcher({
      parentPath: this.#s.cellPath,
      log: args.log,
      downAfterMs: this.#s.downAfterMs,
      tls: this.#s.tls,
      sink: {
        loadCursor: async (child) => Number((await this.#conductor.getState(systemContext(), `cursor:${child}`)) ?? 0),
        applyEvents: async (child, events, cursor) => {
          const ctx = systemContext()
          await this.#conductor.relayEvents(ctx, events)
          await this.#conductor.setState(ctx, `cursor:${child}`, String(cursor))
          this.#pumpAll()
        },
        onCapacity: () => this.#scheduleReport(),
      },
    })
    // Anti-entropy with the children: what this cell's index lacks or holds older is relayed as
    // if the event had arrived (and so shipped further up).
    this.#antiEntropy = new AntiEntropyLoop({
      intervalMs: this.#s.antiEntropyIntervalMs ?? 0,
      log: args.log,
      children: () => this.#watcher.paths().flatMap((path) => {
        const link = this.#watcher.client(path)
        return link === undefined ? [] : [{ path, link }]
      }),
      target: {
        differing: (_child, page) => this.#conductor.staleVersions(systemContext(), page),
        repair: async (_child, events) => {
          const { applied } = await this.#conductor.relayEvents(systemContext(), events)
          if (applied > 0) this.#pumpAll()
          return applied
        },
      },
    })
  }

  /** One anti-entropy pass over the children now (tests, and `cellctl` in time). */
  reconcileChildren(): Promise<ReconcileResult[]> {
    return this.#antiEntropy.runOnce()
  }

  /** The port the gRPC server listens on. */
  get port(): number {
    return this.#server?.port ?? 0
  }

  async start(): Promise<void> {
    this.#busSub = await this.#bus.serve({
      topic: AGENT_TOPIC,
      fanout: true,
      handler: (_ctx, method, _args, caller) => {
        // Nudges come from the conductor; a compute host must not be able to drive the agent.
        requireCaller(caller, 'cell-agent', ['conductor', 'operator'])
        if (method === 'outbox_changed') this.#pumpAll()
        else if (method === 'capacity_changed') this.#scheduleReport()
        return null
      },
    })
    for (const c of this.#s.children) this.#watcher.add(c)
    this.#server = await serveCell({ address: this.#s.listenAddress, link: this, watch: this, tls: this.#s.tls })
    this.#timer = setInterval(() => void this.#report(), this.#s.reportIntervalMs)
    this.#timer.unref()
    if ((this.#s.antiEntropyIntervalMs ?? 0) > 0) this.#antiEntropy.start()
    this.#log.info({ cell: this.#s.cellPath, port: this.port, children: this.#s.children.length }, 'cell agent serving')
  }

  async stop(): Promise<void> {
    this.#antiEntropy.stop()
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#reportCoalescer.cancel()
    await this.#watcher.stop()
    await this.#server?.close()
    await this.#busSub?.close()
  }

  // ---- downward: builds and actions ----

  /**
   * Places a build in this subtree: on this cell's own hosts first (when it has any), then on its
   * children through {@link placeAcrossChildren}. Answers `accepted` (placed), a NACK (refused:
   * nothing kept anywhere below), or throws {@link CellUnreachableError} when the outcome is
   * unknown at the deadline, so that the parent asks this cell again rather than another one.
   * Idempotent by instance uuid: a repeated build goes first where the earlier one went (the child
   * is remembered in the cell DB before each send) and a leaf answers with the host it chose.
   */
  async build(ctx: RequestContext, call: BuildCall): Promise<BuildOutcome> {
    const spec = call.spec
    const uuid = call.instanceUuid
    const logged = { requestId: ctx.requestId, instance: uuid, cell: this.#s.cellPath }
    const deadline = childDeadline(ctx.deadline ?? Date.now() + DEFAULT_BUILD_DEADLINE_MS)
    const hasChildren = this.#watcher.paths().length > 0
    const memoryKey = `build:${uuid}`
    const remembered = hasChildren ? ((await this.#conductor.getState(ctx, memoryKey)) ?? '') : ''
    const reasons: string[] = []
    if (this.#disabled) {
      // No new builds, but a build this cell already holds (asked again after a lost answer)
      // must still be answered as placed, or the parent would place it a second time elsewhere;
      // and one it had sent to a child is finished there.
      const held = await this.#heldHere(ctx, uuid)
      if (held !== undefined) return held
      if (remembered === '') {
        this.#log.info(logged, 'build declined: cell disabled')
        return { accepted: false, reason: `cell ${this.#s.cellPath} is disabled` }
      }
      reasons.push(`${this.#s.cellPath}: disabled`)
    }
    if (!this.#disabled && this.#s.hasHosts && remembered === '' && !call.triedCells.includes(this.#s.cellPath)) {
      const here = await this.#buildHere(ctx, spec, deadline)
      if (here.kind === 'placed') {
        this.#log.info({ ...logged, host: here.host }, 'build accepted by this cell')
        return { accepted: true, cellPath: this.#s.cellPath, host: here.host }
      }
      if (here.kind === 'unknown') throw new CellUnreachableError(`build of ${uuid} in ${this.#s.cellPath}: ${here.reasons.join('; ')}`)
      reasons.push(...here.reasons)
    }
    const tried = [...call.triedCells]
    const req = cellBuildRequestOf(spec, { triedCells: tried, isAdmin: ctx.roles?.includes('admin') ?? false })
    const ranking = this.#s.rank(this.#watcher.childAggregates(), req)
    for (const [path, why] of Object.entries(ranking.rejected)) reasons.push(`${path}: ${why}`)
    const out = await placeAcrossChildren({
      ctx: { ...ctx, deadline },
      call: { ...call, triedCells: tried },
      ranked: this.#disabled ? [] : ranking.ranked.map((c) => c.path),
      maxAttempts: this.#s.maxCellAttempts,
      clientFor: (path) => this.#watcher.client(path),
      remembered,
      remember: (path) => this.#conductor.setState(ctx, memoryKey, path),
      forget: () => this.#conductor.setState(ctx, memoryKey, ''),
      onUnknown: (path, err) => this.#log.warn({ ...logged, child: path, err: String(err) }, 'build outcome unknown: asking the same child again'),
    })
    if (out.kind === 'placed') {
      this.#log.info({ ...logged, placedIn: out.cellPath, host: out.host }, 'build accepted below')
      return { accepted: true, cellPath: out.cellPath, host: out.host }
    }
    if (out.kind === 'unknown') throw new CellUnreachableError(`build of ${uuid} below ${this.#s.cellPath}: ${out.reasons.join('; ')}`)
    const reason = [...reasons, ...out.reasons].join('; ') || 'no cell can take this build'
    this.#log.info({ ...logged, reason }, 'build declined')
    return { accepted: false, reason }
  }

  /**
   * This cell's own hosts: the conductor's build is idempotent by uuid, so an unknown outcome
   * (AMQP timeout, lost reply) is asked again until the deadline.
   */
  async #buildHere(ctx: RequestContext, spec: BuildSpec, deadline: number): Promise<PlacementOutcome> {
    const here = this.#s.cellPath
    const out = await untilDefinite({
      deadline,
      attempt: (callDeadline) => this.#conductor.buildInstance({ ...ctx, deadline: callDeadline }, spec),
      onUnknown: (err) => this.#log.warn({ requestId: ctx.requestId, instance: spec.instanceUuid, err: String(err) }, 'local build outcome unknown: asking the conductor again'),
    })
    if (out.kind === 'answered') return { kind: 'placed', cellPath: here, host: out.value.host }
    if (out.kind === 'refused') return { kind: 'refused', reasons: [`${here}: ${out.err instanceof Error ? out.err.message : String(out.err)}`] }
    return { kind: 'unknown', cellPath: here, reasons: [`${here}: outcome unknown at the deadline (${out.last})`] }
  }

  /** Whether this cell's own hosts already hold the instance (a build asked again). */
  async #heldHere(ctx: RequestContext, uuid: string): Promise<BuildOutcome | undefined> {
    if (!this.#s.hasHosts) return undefined
    // A build handed back up the tree (deleted here in ERROR) is not held: this cell kept nothing.
    const found = ((await this.#conductor.getInstances(ctx, [uuid])) as Array<{ host?: string | null; deleted?: boolean; vmState?: string }>).filter(
      (r) => !(r.deleted === true && r.vmState === 'error'),
    )
    return found.length > 0 ? { accepted: true, cellPath: this.#s.cellPath, host: found[0]?.host ?? '' } : undefined
  }

  #route(path: string): CellLink | 'self' {
    if (path === this.#s.cellPath) return 'self'
    const hop = nextHop(this.#s.cellPath, path)
    const client = hop === undefined ? undefined : this.#watcher.client(hop)
    if (client === undefined) throw new NotFoundError(`cell ${path} is not below ${this.#s.cellPath}`)
    return client
  }

  async instanceAction(ctx: RequestContext, args: InstanceActionCall): Promise<unknown> {
    const to = this.#route(args.cellPath)
    if (to !== 'self') return to.instanceAction(ctx, args)
    return this.#conductor.instanceAction(ctx, {
      uuid: args.instanceUuid,
      action: args.action,
      args: args.args,
      isAdmin: ctx.roles?.includes('admin') ?? false,
    })
  }

  async getInstances(ctx: RequestContext, args: { cellPath: string; uuids: readonly string[] }): Promise<unknown[]> {
    const to = this.#route(args.cellPath)
    if (to !== 'self') return to.getInstances(ctx, args)
    return this.#conductor.getInstances(ctx, args.uuids)
  }

  /** What {@link CellAgent.getInstances} answers, as JSON texts: a cell below's are relayed as they came. */
  async getInstancesJson(ctx: RequestContext, args: { cellPath: string; uuids: readonly string[] }): Promise<string[]> {
    const to = this.#route(args.cellPath)
    if (to !== 'self') return to.getInstancesJson !== undefined ? to.getInstancesJson(ctx, args) : (await to.getInstances(ctx, args)).map((r) => JSON.stringify(r))
    return (await this.#conductor.getInstances(ctx, args.uuids)).map((r) => JSON.stringify(r))
  }

  async listHosts(ctx: RequestContext): Promise<unknown[]> {
    const own = this.#s.hasHosts ? await this.#conductor.listHosts(ctx) : []
    const below = await Promise.all(
      this.#watcher.paths().map((p) => this.#watcher.client(p)?.listHosts(ctx).catch(() => []) ?? Promise.resolve([])),
    )
    return [...own, ...below.flat()]
  }

  /**
   * Administrative operations on this cell. Ops the agent owns (its own settings and children:
   * `set_disabled`, `add_child`, `remove_child`, `set_child_weight_offset`) are handled here; everything else goes to the
   * conductor as `admin_<op>`. Children added at run time are not written to deploy/regions: add
   * them there too, or they are forgotten when this agent restarts.
   */
  async cellAdmin(ctx: RequestContext, args: CellAdminCall): Promise<unknown> {
    const to = this.#route(args.cellPath)
    if (to !== 'self') return to.cellAdmin(ctx, args)
    this.#log.info({ requestId: ctx.requestId, cell: this.#s.cellPath, op: args.op }, 'cell admin operation')
    switch (args.op) {
      case 'set_disabled': {
        const a = args.args as { disabled?: unknown }
        this.#disabled = a.disabled === true
        this.#scheduleReport()
        return { disabled: this.#disabled }
      }
      case 'set_child_weight_offset': {
        const a = args.args as { path?: unknown; weightOffset?: unknown }
        if (typeof a.path !== 'string' || nextHop(this.#s.cellPath, a.path) !== a.path) throw new InvalidError(`${String(a.path)} is not a direct child of ${this.#s.cellPath}`)
        if (typeof a.weightOffset !== 'number' || !Number.isFinite(a.weightOffset)) throw new InvalidError('set_child_weight_offset needs a numeric weightOffset')
        this.#s.childWeightOffsets?.set(a.path, a.weightOffset)
        return { path: a.path, weightOffset: a.weightOffset }
      }
      case 'add_child':
      case 'remove_child': {
        // A child cell created (or deleted) at run time: watch it (or stop) without a restart.
        const a = args.args as { path?: unknown; address?: unknown }
        const path = typeof a.path === 'string' ? a.path : ''
        if (nextHop(this.#s.cellPath, path) !== path) throw new InvalidError(`${path} is not a direct child of ${this.#s.cellPath}`)
        if (args.op === 'remove_child') {
          this.#watcher.remove(path)
          this.#scheduleReport()
          return { removed: path }
        }
        if (typeof a.address !== 'string' || !/^\S+:\d{1,5}$/.test(a.address)) throw new InvalidError('add_child needs an address host:port')
        this.#watcher.add({ path, address: a.address })
        return { added: path, address: a.address }
      }
      default:
        return this.#conductor.admin(ctx, args.op, args.args)
    }
  }

  async listInstanceVersions(ctx: RequestContext, page: InstanceVersionPage): Promise<InstanceVersion[]> {
    return this.#conductor.instanceVersions(ctx, page)
  }

  async ackEvents(args: { parentPath: string; cursor: number }): Promise<void> {
    await this.#conductor.outboxAck(systemContext(), args.cursor)
  }

  // ---- upward: capacity and events ----

  watch(args: WatchArgs, emit: (u: CellUpdate) => void): () => void {
    this.#flavors = args.flavors
    this.#watcher.setFlavors(args.flavors)
    const sub: Subscriber = { cursor: args.cursor, emit, pumping: false, again: false }
    this.#subs.add(sub)
    void this.#conductor.outboxAck(systemContext(), args.cursor).catch(() => undefined)
    void this.#capacity().then((cells) => emit({ kind: 'capacity', cells }), () => undefined)
    void this.#pump(sub)
    return () => {
      this.#subs.delete(sub)
    }
  }

  #pumpAll(): void {
    for (const s of this.#subs) void this.#pump(s)
  }

  async #pump(sub: Subscriber): Promise<void> {
    if (sub.pumping) {
      sub.again = true
      return
    }
    sub.pumping = true
    try {
      do {
        sub.again = false
        for (;;) {
          const batch = await this.#conductor.outboxFetch(systemContext(), { after: sub.cursor, limit: 500 })
          if (batch.events.length === 0 || !this.#subs.has(sub)) break
          sub.emit({ kind: 'events', events: batch.events, cursor: batch.cursor })
          sub.cursor = batch.cursor
        }
      } while (sub.again && this.#subs.has(sub))
    } catch (err) {
      this.#log.warn({ err: String(err) }, 'shipping outbox failed; will retry on next change')
    } finally {
      sub.pumping = false
    }
  }

  #scheduleReport(): void {
    this.#reportCoalescer.trigger()
  }

  async #report(): Promise<void> {
    void this.#measureOutbox()
    if (this.#subs.size === 0) return
    // The outbox is pumped on every `outbox_changed` cast, and also here: a cast that got lost (or a
    // commit after the pump last looked) would otherwise leave the newest events unshipped until
    // the next change, which after a server's final delete may never come.
    this.#pumpAll()
    try {
      const cells = await this.#capacity()
      for (const s of this.#subs) s.emit({ kind: 'capacity', cells })
    } catch (err) {
      this.#log.warn({ err: String(err) }, 'capacity report failed')
    }
  }

  /** Publishes the outbox lag (events the parent has not acknowledged yet) as metrics. */
  async #measureOutbox(): Promise<void> {
    try {
      const stats = (await this.#conductor.admin(systemContext(), 'outbox_stats', {})) as { pending: number; oldestCreatedAt: number | null }
      const cell = this.#s.cellPath
      outboxPending.set({ cell }, stats.pending)
      outboxLagSeconds.set({ cell }, stats.oldestCreatedAt === null ? 0 : Math.max(0, Date.now() - stats.oldestCreatedAt) / 1000)
    } catch (err) {
      this.#log.debug({ err: String(err) }, 'outbox stats unavailable')
    }
  }

  /** This subtree's aggregate first, then every descendant's entry. */
  async #capacity(): Promise<CellCapacity[]> {
    const now = Date.now()
    const own = this.#s.hasHosts ? await this.#conductor.getCapacity(systemContext(), this.#flavors) : null
    const children = this.#watcher.childAggregates(now)
    const parts = own === null ? children : [own, ...children]
    const top = aggregate(this.#s.cellPath, parts, now, this.#disabled)
    return [top, ...this.#watcher.reports(now)]
  }
}
