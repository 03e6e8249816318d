import type { Kysely } from 'kysely'
import type { BuildGroup, BuildSpec } from '../../shared/cell-link/build-spec.js'
import type { CellCapacity, CellLink } from '../../shared/cell-link/types.js'
import type { RequestContext } from '../../shared/context.js'
import type { Logger } from '../../shared/logging.js'
import { recordBuild } from '../../shared/metrics/cell-metrics.js'
import type { CellBuildRequest, CellRanking } from '../../shared/scheduling/cell-ranking.js'
import { cellBuildRequestOf } from '../../shared/scheduling/cell-ranking.js'
import type { Cell0Store } from '../cells/cell0.js'
import { CELL0_PATH } from '../cells/cell0.js'
import type { CellTree } from '../cells/cell-tree.js'
import type { ComputeTables } from '../db/compute-schema.js'
import { outcomeOfError, placeAcrossChildren } from '../../shared/cell-link/placement.js'
import type { BuildLog } from './build-log.js'
import { recordInCell0 } from './cell0-record.js'
import { KeyedQueue } from '../../shared/keyed-queue.js'
import type { Cell0Cause, PlaceOutcome, Placer } from './reservation.js'
import { placeReservation } from './reservation.js'

/**
 * Where the compute API hands accepted builds (already answered 202): the dispatcher itself, or,
 * in an API worker that does not dispatch (`--workers`), a forwarder to the one that does.
 */
export interface BuildQueue {
  /** Starts dispatching one build in the background. */
  enqueue(ctx: RequestContext, uuid: string): void
  /** Starts dispatching the builds of one multi-create request in the background. */
  enqueueReservation(ctx: RequestContext, uuids: readonly string[]): void
}

/** Settings of the global scheduler. */
export interface DispatcherSettings {
  /** How many regions a build tries before it goes to cell0. */
  readonly maxCellAttempts: number
  /** Ranks the regions for a build (cell filters and weighers). */
  readonly rank: (candidates: readonly CellCapacity[], req: CellBuildRequest) => CellRanking
  /**
   * The current members of a build's server group (hosts and cells, from the API DB), read right
   * before the build is sent down. Absent, or `undefined` from it: the members in the spec, plus
   * the ones this dispatcher placed since.
   */
  readonly groupMembers?: (spec: BuildSpec) => Promise<BuildGroup['members'] | undefined>
  /**
   * How long one placement may take, in ms (default 60 s): a region whose answer is unknown (a
   * timeout, a lost reply) is asked again until then; past it the build ends in cell0, and should
   * the region turn out to have placed it after all, its copy is removed (see CellTree).
   */
  readonly placementDeadlineMs?: number
  /**
   * Told of every placement that stands (the network service binds the server's ports to the
   * host). Called without waiting: it must not throw, and a slow one delays nothing.
   */
  readonly onPlaced?: (instanceUuid: string, host: string) => void
}

/** Default of {@link DispatcherSettings.placementDeadlineMs}. */
export const DEFAULT_PLACEMENT_DEADLINE_MS = 60_000

const GONE: PlaceOutcome = Object.freeze({ kind: 'gone' })

/** Thrown to roll back a decision on a build whose conditional write missed (see `#placed`). */
const RACED = new Error('another decision on this build committed first')

/** The longest pause before a failed dispatch is tried again. */
const MAX_RETRY_DELAY_MS = 15_000

/** Groups whose placements the dispatcher remembers when it has no `groupMembers` lookup. */
const MAX_REMEMBERED_GROUPS = 10_000

/**
 * The global scheduler's driver: takes accepted build requests (already answered 202), picks a
 * region from reported capacity, sends the build down with a deadline, tries the next region on a
 * NACK, and records the outcome: the instance mapping's cell, or cell0 in ERROR when the whole tree
 * said no. Pending build requests are re-driven at start-up (a build is idempotent in the leaf),
 * so an API crash between 202 and dispatch loses nothing.
 *
 * - A build a leaf could not spawn comes back as a build request with `retry` (see
 *   reschedule-intake.ts) and goes down again, avoiding the cells that failed it.
 * - Builds of one server group are placed one after the other (see shared/keyed-queue.ts), each with
 *   the members' hosts as they are at that moment.
 * - Multi-create places its first `min_count` instances all or nothing (see reservation.ts).
 */
export class BuildDispatcher implements Placer, BuildQueue {
  readonly #db: Kysely<ComputeTables>
  readonly #tree: CellTree
  readonly #cell0: Cell0Store
  readonly #s: DispatcherSettings
  readonly #log: Logger
  readonly #builds: BuildLog | undefined
  readonly #inflight = new Set<Promise<void>>()
  readonly #retries = new Set<NodeJS.Timeout>()
  /** Builds (or reservations: their uuids joined) being dispatched, or waiting to be tried again. */
  readonly #active = new Set<string>()
  /** Dispatches asked for while the same one was active: run once it is done. */
  readonly #again = new Map<string, { ctx: RequestContext; work: () => Promise<void> }>()
  #closed = false
  readonly #groups = new KeyedQueue()
  /** Members this dispatcher placed, per group, while no `groupMembers` lookup is configured. */
  readonly #placedMembers = new Map<string, Map<string, { host: string; cellPath: string }>>()

  /** `builds`: where the outcome of each build (and who refused it) is noted for the admin API. */
  constructor(args: { db: Kysely<ComputeTables>; tree: CellTree; cell0: Cell0Store; settings: DispatcherSettings; log: Logger; builds?: BuildLog }) {
    this.#builds = args.builds
    this.#db = args.db
    this.#tree = args.tree
    this.#cell0 = args.cell0
    this.#s = args.settings
    this.#log = args.log
  }

  /** Starts dispatching one build in the background. */
  enqueue(ctx: RequestContext, uuid: string): void {
    this.#once(ctx, uuid, () => this.dispatch(ctx, uuid))
  }

  /**
   * Starts dispatching the builds of one multi-create request in the background: the launch indexes
   * below `min_count` are placed all or nothing, the others one by one.
   */
  enqueueReservation(ctx: RequestContext, uuids: readonly string[]): void {
    this.#once(ctx, uuids.join(','), () => placeReservation(this, ctx, uuids))
  }

  /**
   * Runs `work` for `what` unless a dispatch of the same `what` is under way (or waiting to be
   * tried again): then it runs once more after that one, never alongside it. Two concurrent
   * dispatches of one build could each pick a cell before either remembered one; one after the
   * other, the second finds the build placed (or the cell it was sent to). Happens when the
   * dispatching API worker restarts (`resumePending`) while the other workers forward builds.
   */
  #once(ctx: RequestContext, what: string, work: () => Promise<void>): void {
    if (this.#active.has(what)) {
      this.#again.set(what, { ctx, work })
      return
    }
    this.#active.add(what)
    this.#track(ctx, what, work)
  }

  /** `what` is done (placed, or given up at shutdown): a dispatch asked for meanwhile runs now. */
  #finished(what: string): void {
    this.#active.delete(what)
    const next = this.#again.get(what)
    if (next === undefined || this.#closed) return
    this.#again.delete(what)
    this.#once(next.ctx, what, next.work)
  }

  /**
   * Runs `work` in the background. When it fails outside the placement protocol (the API database
   * away, say), it runs again with back-off: build requests are durable and every step is
   * idempotent (a cell already sent to is remembered), so a failed dispatch is retried rather than
   * left pending until the next restart.
   */
  #track(ctx: RequestContext, what: string, work: () => Promise<void>, attempt = 0): void {
    const p = work().then(() => this.#finished(what)).catch((err: unknown) => {
      recordBuild('failed')
      if (this.#closed) {
        this.#log.error({ requestId: ctx.requestId, instance: what, err: String(err) }, 'build dispatch failed while stopping: re-driven at the next start')
        this.#finished(what)
        return
      }
      const delay = Math.min(MAX_RETRY_DELAY_MS, 500 * 2 ** attempt)
      this.#log.error({ requestId: ctx.requestId, instance: what, err: String(err), retryInMs: delay }, 'build dispatch failed: trying again')
      const timer = setTimeout(() => {
        this.#retries.delete(timer)
        this.#track(ctx, what, work, attempt + 1)
      }, delay)
      timer.unref()
      this.#retries.add(timer)
    })
    this.#inflight.add(p)
    void p.finally(() => this.#inflight.delete(p))
  }

  /** Re-drives every build request that has no cell yet (after a restart), multi-creates together. */
  async resumePending(ctx: RequestContext): Promise<number> {
    const rows = await this.#db
      .selectFrom('build_requests')
      .innerJoin('instance_mappings', 'instance_mappings.instance_uuid', 'build_requests.instance_uuid')
      .select(['build_requests.instance_uuid', 'build_requests.spec'])
      .where('instance_mappings.cell_path', 'is', null)
      .execute()
    const reservations = new Map<string, string[]>()
    for (const r of rows) {
      const spec = JSON.parse(r.spec) as BuildSpec
      if ((spec.minCount ?? 1) > 1 && spec.retry === undefined) {
        const list = reservations.get(spec.reservationId) ?? []
        list.push(r.instance_uuid)
        reservations.set(spec.reservationId, list)
      } else {
        this.enqueue(ctx, r.instance_uuid)
      }
    }
    for (const uuids of reservations.values()) this.enqueueReservation(ctx, uuids)
    return rows.length
  }

  /**
   * Stops retrying failed dispatches and waits for every dispatch under way (shutdown). What is
   * still pending is re-driven at the next start (see {@link BuildDispatcher.resumePending}).
   */
  async drain(): Promise<void> {
    this.#closed = true
    for (const t of this.#retries) clearTimeout(t)
    this.#retries.clear()
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight])
  }

  /** Places one build, or records it in cell0 when no cell takes it. */
  async dispatch(ctx: RequestContext, uuid: string): Promise<void> {
    const out = await this.place(ctx, uuid)
    // Unknown at the deadline: cell0 too. Should the cell have placed it after all, the cell0
    // record wins and that copy is deleted when its first event arrives (CellTree.applyEvents).
    if (out.kind === 'refused' || out.kind === 'unknown') await this.toCell0(ctx, uuid, out.reasons, { attempt: out.attempt })
  }

  /**
   * Sends one build down the tree until a region accepts it, and records where it went. Does not
   * touch cell0: the caller decides what a refusal means (a multi-create may roll back).
   */
  async place(ctx: RequestContext, uuid: string): Promise<PlaceOutcome> {
    const first = await this.#buildRequest(uuid)
    if (first === undefined) return GONE
    const group = first.spec.group
    if (group === undefined) return this.#placeOnce(ctx, first.spec, first)
    return this.#groups.run(group.uuid, async () => {
      // Re-read: while it waited its turn, the build may have been deleted or rescheduled.
      const br = await this.#buildRequest(uuid)
      if (br === undefined) return GONE
      return this.#placeOnce(ctx, await this.#withCurrentMembers(br.spec), br)
    })
  }

  /**
   * The regions a build of `spec` may go to, best first, by the cell filters and weighers every
   * build goes through (an unshelve into another cell is placed with them too).
   */
  rankRegions(ctx: RequestContext, spec: BuildSpec, region: string | null, triedCells: readonly string[]): string[] {
    const req = cellBuildRequestOf(spec, { triedCells: [...triedCells], isAdmin: ctx.roles?.includes('admin') ?? false })
    return this.#s.rank(this.#tree.regionAggregates(region), req).ranked.map((c) => c.path)
  }

  /** The pending build specs among `uuids` (those still waiting for a cell). */
  async buildSpecs(uuids: readonly string[]): Promise<BuildSpec[]> {
    if (uuids.length === 0) return []
    const rows = await this.#db.selectFrom('build_requests').select('spec').where('instance_uuid', 'in', uuids).execute()
    return rows.map((r) => JSON.parse(r.spec) as BuildSpec)
  }

  async #buildRequest(uuid: string): Promise<{ spec: BuildSpec; region: string | null; dispatchCell: string | null } | undefined> {
    const br = await this.#db.selectFrom('build_requests').select(['spec', 'region', 'dispatch_cell']).where('instance_uuid', '=', uuid).executeTakeFirst()
    return br === undefined ? undefined : { spec: JSON.parse(br.spec) as BuildSpec, region: br.region, dispatchCell: br.dispatch_cell ?? null }
  }

  /** `br`: where the request is scoped (`region`) and the cell it was last sent to (`dispatchCell`). */
  async #placeOnce(ctx: RequestContext, spec: BuildSpec, br: { readonly region: string | null; readonly dispatchCell: string | null }): Promise<PlaceOutcome> {
    const region = br.region
    const uuid = spec.instanceUuid
    const started = Date.now()
    const tried = [...(spec.retry?.triedCells ?? [])]
    const req = cellBuildRequestOf(spec, { triedCells: tried, isAdmin: ctx.roles?.includes('admin') ?? false })
    const ranking = this.#s.rank(this.#tree.regionAggregates(region), req)
    const reasons = [...(spec.retry?.faults ?? []), ...Object.entries(ranking.rejected).map(([p, why]) => `${p}: ${why}`)]
    const setDispatchCell = async (cell: string | null): Promise<void> => {
      await this.#db.updateTable('build_requests').set({ dispatch_cell: cell }).where('instance_uuid', '=', uuid).execute()
    }
    const out = await placeAcrossChildren({
      ctx: { ...ctx, deadline: Date.now() + (this.#s.placementDeadlineMs ?? DEFAULT_PLACEMENT_DEADLINE_MS) },
      call: { instanceUuid: uuid, spec, triedCells: tried },
      ranked: ranking.ranked.map((c) => c.path),
      maxAttempts: this.#s.maxCellAttempts,
      clientFor: (path) => {
        try {
          return this.#noteRefusals(uuid, path, this.#tree.clientFor(path))
        } catch {
          return undefined
        }
      },
      remembered: br.dispatchCell ?? undefined,
      remember: (path) => setDispatchCell(path),
      forget: () => setDispatchCell(null),
      onUnknown: (path, err) =>
        this.#log.warn({ requestId: ctx.requestId, instance: uuid, cell: path, err: String(err) }, 'build outcome unknown: asking the same cell again'),
    })
    if (out.kind === 'placed') {
      const kept = await this.#placed(ctx, spec, out.cellPath, out.host)
      const placedLog = { requestId: ctx.requestId, instance: uuid, cell: out.cellPath, host: out.host, attempt: spec.retry?.attempt ?? 0 }
      this.#log.info(placedLog, kept ? 'build placed' : 'build placed, but no longer wanted: deleted meanwhile, or a newer attempt took over')
      if (kept) {
        recordBuild('placed', started)
        this.#builds?.ended(uuid, { outcome: 'placed', cellPath: out.cellPath, host: out.host })
        this.#s.onPlaced?.(uuid, out.host)
      }
      return kept ? { kind: 'placed', cellPath: out.cellPath, host: out.host } : GONE
    }
    return { ...out, reasons: [...reasons, ...out.reasons], attempt: spec.retry?.attempt ?? 0 }
  }

  /**
   * Records where the build went, unless its build request changed meanwhile: gone with the
   * mapping still without a cell means a delete raced the build (the delete is sent after it);
   * gone with a cell, or there with a newer `retry.attempt`, means a leaf already handed this
   * attempt back and a newer one took over. Returns whether this placement stands.
   */
  async #placed(ctx: RequestContext, spec: BuildSpec, cellPath: string, host: string): Promise<boolean> {
    const uuid = spec.instanceUuid
    const attempt = spec.retry?.attempt ?? 0
    // Every decision on a build's fate (this one, a take-back, cell0, a delete) is a conditional
    // write on the instance's mapping row first, then on its build request: one lock order, so no
    // deadlock, and each sees what the others committed. Reads may come from an older snapshot
    // (MariaDB's repeatable read): a write that misses means another decision won; decide again.
    const decide = (): Promise<'placed' | 'deleted' | 'superseded'> =>
      this.#db.transaction().execute(async (tx) => {
        const m = await tx.selectFrom('instance_mappings').select(['cell_path', 'queued_for_delete']).where('instance_uuid', '=', uuid).executeTakeFirst()
        const br = await tx.selectFrom('build_requests').select('spec').where('instance_uuid', '=', uuid).executeTakeFirst()
        if (m === undefined) return 'superseded'
        if (br === undefined || m.queued_for_delete === 1) return m.cell_path === null ? 'deleted' : 'superseded'
        if (((JSON.parse(br.spec) as BuildSpec).retry?.attempt ?? 0) !== attempt) return 'superseded'
        const mapped = await tx
          .updateTable('instance_mappings')
          .set({ cell_path: cellPath })
          .where('instance_uuid', '=', uuid)
          .where('cell_path', 'is', null)
          .where('queued_for_delete', '=', 0)
          .executeTakeFirst()
        if (Number(mapped.numUpdatedRows) !== 1) throw RACED
        // Only the build request read above: a take-back rewrites its spec (a newer attempt).
        const del = await tx.deleteFrom('build_requests').where('instance_uuid', '=', uuid).where('spec', '=', br.spec).executeTakeFirst()
        if (Number(del.numDeletedRows) !== 1) throw RACED
        // The host too, right away: the next member of a server group must see it before any event.
        await tx.updateTable('instance_index').set({ cell_path: cellPath, host }).where('uuid', '=', uuid).execute()
        return 'placed'
      })
    let verdict: 'placed' | 'deleted' | 'superseded' | undefined
    for (let i = 0; verdict === undefined; i += 1) {
      verdict = await decide().catch((err: unknown) => {
        if (err !== RACED) throw err
        return i < 10 ? undefined : 'superseded'
      })
    }
    if (verdict === 'placed') {
      if (spec.group !== undefined && this.#s.groupMembers === undefined) this.#rememberMember(spec.group.uuid, uuid, host, cellPath)
      return true
    }
    if (verdict === 'deleted') {
      this.#log.info({ requestId: ctx.requestId, instance: uuid }, 'deleted while building: deleting in its cell')
      await this.#tree
        .clientFor(cellPath)
        .instanceAction(ctx, { cellPath, instanceUuid: uuid, action: 'delete', args: {} })
        .catch((err: unknown) => this.#log.warn({ instance: uuid, err: String(err) }, 'delete after build failed'))
    }
    return false
  }

  /** `client`, whose build refusals (NACKs) are noted in the build log. Only `build` is called by the placement. */
  #noteRefusals(uuid: string, path: string, client: CellLink): CellLink {
    const builds = this.#builds
    if (builds === undefined) return client
    const build: CellLink['build'] = async (ctx, call) => {
      try {
        const out = await client.build(ctx, call)
        if (!out.accepted) builds.refused(uuid, path, out.reason)
        return out
      } catch (err) {
        if (outcomeOfError(err) === 'refused') builds.refused(uuid, path, err instanceof Error ? err.message : String(err))
        throw err
      }
    }
    return Object.assign(Object.create(client) as CellLink, { build })
  }

  /** The spec with its group's members as they are now (hosts placed since the request came in). */
  async #withCurrentMembers(spec: BuildSpec): Promise<BuildSpec> {
    const group = spec.group
    if (group === undefined) return spec
    const fresh = this.#s.groupMembers === undefined ? undefined : await this.#s.groupMembers(spec)
    if (fresh !== undefined) return { ...spec, group: { ...group, members: fresh } }
    // Without a lookup: the spec's members plus those placed since. A member may be counted twice
    // (when the spec already knew it), which only makes anti-affinity stricter, never wrong.
    const placed = [...(this.#placedMembers.get(group.uuid)?.entries() ?? [])].filter(([u]) => u !== spec.instanceUuid).map(([, m]) => m)
    return placed.length === 0 ? spec : { ...spec, group: { ...group, members: [...group.members, ...placed] } }
  }

  #rememberMember(groupUuid: string, uuid: string, host: string, cellPath: string): void {
    const members = this.#placedMembers.get(groupUuid) ?? new Map<string, { host: string; cellPath: string }>()
    members.set(uuid, { host, cellPath })
    // Most recently used last; forget the oldest groups past a bound (their members are in the index).
    this.#placedMembers.delete(groupUuid)
    this.#placedMembers.set(groupUuid, members)
    if (this.#placedMembers.size > MAX_REMEMBERED_GROUPS) this.#placedMembers.delete(this.#placedMembers.keys().next().value as string)
  }

  /**
   * Records the build in cell0, in ERROR with a fault made of `reasons`. With `placed`, the
   * instance had been placed and is taken back (a multi-create rolled back): its cell is told to
   * delete it after cell0 owns it. A build deleted meanwhile is left alone, and so is one a newer
   * attempt took over (a leaf handed it back while this attempt was still waiting on an answer).
   */
  async toCell0(ctx: RequestContext, uuid: string, reasons: readonly string[], cause: Cell0Cause): Promise<void> {
    const placed = 'placed' in cause ? cause.placed : undefined
    const recorded = await recordInCell0(
      { db: this.#db, cell0: this.#cell0 },
      { uuid, reasons, ...(placed === undefined ? { attempt: (cause as { attempt: number }).attempt } : { spec: placed.spec }) },
    )
    if (!recorded) return
    recordBuild('cell0')
    this.#builds?.ended(uuid, { outcome: 'error', cellPath: CELL0_PATH, host: null, reasons })
    this.#log.warn({ requestId: ctx.requestId, instance: uuid, reasons }, 'no cell could take the build: recorded in cell0')
    if (placed === undefined) return
    await this.#tree
      .clientFor(placed.cellPath)
      .instanceAction(ctx, { cellPath: placed.cellPath, instanceUuid: uuid, action: 'delete', args: {} })
      .catch((err: unknown) => this.#log.warn({ instance: uuid, cell: placed.cellPath, err: String(err) }, 'taking back a placed instance failed'))
  }
}
