import type { Kysely } from 'kysely'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CellTls } from '../../shared/cell-link/cell-tls.js'
import { ChildWatcher } from '../../shared/cell-link/child-watcher.js'
import type { GrpcCellClient } from '../../shared/cell-link/grpc-client.js'
import type { InstanceRecord } from '../../shared/cell-link/build-spec.js'
import type { ReconcileResult } from '../../shared/cell-link/anti-entropy.js'
import { AntiEntropyLoop, indexPayloadOf } from '../../shared/cell-link/anti-entropy.js'
import type { CellCapacity, FlavorShape, InstanceEvent } from '../../shared/cell-link/types.js'
import { nextHop } from '../../shared/cell-link/types.js'
import { systemContext } from '../../shared/context.js'
import { AppError, NotFoundError } from '../../shared/errors.js'
import type { Logger } from '../../shared/logging.js'
import type { ComputeTables } from '../db/compute-schema.js'
import { CELL0_PATH } from './cell0.js'
import { splitOwnedEvents } from './event-ownership.js'
import { fromMoveTarget, moveTargets } from './moves-in-flight.js'
import { differingRows, indexRow, repairIndexRows } from './index-repair.js'
import { sagaCells } from '../compute/cross-cell/saga-store.js'
import { takeBackBuild } from './reschedule-intake.js'

/** The API cell's path. */
export const API_PATH = 'api'

/**
 * The API cell's view of the tree below it: one Watch stream per region (its direct children),
 * capacity reports of every cell, and the instance index kept up to date from versioned events.
 */
export class CellTree {
  readonly #db: Kysely<ComputeTables>
  readonly #log: Logger
  readonly #watcher: ChildWatcher
  readonly #listeners = new Set<() => void>()
  readonly #rescheduled = new Set<(instanceUuid: string) => void>()
  readonly #deleted = new Set<(instanceUuid: string) => void>()
  readonly #antiEntropy: AntiEntropyLoop
  readonly #antiEntropyIntervalMs: number

  constructor(args: {
    readonly db: Kysely<ComputeTables>
    readonly log: Logger
    readonly downAfterMs: number
    /** The API cell's identity (cell path `api`), presented to every region over mutual TLS. */
    readonly tls: CellTls
    /** Period of the anti-entropy pass over the regions (0 or absent: none). */
    readonly antiEntropyIntervalMs?: number
  }) {
    this.#db = args.db
    this.#log = args.log
    this.#watcher = new ChildWatcher({
      parentPath: API_PATH,
      log: args.log,
      downAfterMs: args.downAfterMs,
      tls: args.tls,
      sink: {
        loadCursor: async (child) =>
          Number((await this.#db.selectFrom('cells').select('event_cursor').where('path', '=', child).executeTakeFirst())?.event_cursor ?? 0),
        applyEvents: (child, events, cursor) => this.applyEvents(child, events, cursor),
        onCapacity: () => this.#listeners.forEach((l) => l()),
      },
    })
    this.#antiEntropyIntervalMs = args.antiEntropyIntervalMs ?? 0
    this.#antiEntropy = new AntiEntropyLoop({
      intervalMs: this.#antiEntropyIntervalMs,
      log: args.log,
      children: () => this.#watcher.paths().flatMap((path) => {
        const link = this.#watcher.client(path)
        return link === undefined ? [] : [{ path, link }]
      }),
      target: { differing: (_c, page) => differingRows(this.#db, page), repair: (child, events) => repairIndexRows(this.#db, child, events) },
    })
  }

  /** Connects to every region registered in the cells table and reports fits for all flavors. */
  async start(): Promise<void> {
    await this.refreshFlavors()
    await this.refreshChildren()
    if (this.#antiEntropyIntervalMs > 0) this.#antiEntropy.start()
  }

  async stop(): Promise<void> {
    this.#antiEntropy.stop()
    await this.#watcher.stop()
  }

  /** Re-reads the direct children from the cells table (after `cellctl cell create`, for one). */
  async refreshChildren(): Promise<void> {
    const rows = await this.#db.selectFrom('cells').selectAll().where('parent_path', '=', API_PATH).execute()
    const want = new Set<string>()
    for (const r of rows) {
      if (r.grpc_address === null) continue
      want.add(r.path)
      this.#watcher.add({ path: r.path, address: r.grpc_address })
    }
    for (const p of this.#watcher.paths()) if (!want.has(p)) this.#watcher.remove(p)
  }

  /** Re-reads flavors: children report how many of each fit. */
  async refreshFlavors(): Promise<void> {
    const rows = await this.#db.selectFrom('flavors').selectAll().where('disabled', '=', 0).execute()
    const shapes: FlavorShape[] = rows.map((f) => ({
      id: f.flavorid,
      memoryMb: f.memory_mb,
      vcpus: f.vcpus,
      diskGb: f.root_gb + f.ephemeral_gb + Math.ceil(f.swap / 1024),
    }))
    this.#watcher.setFlavors(shapes)
  }

  /** Called after each capacity report (tests wait on it). */
  onCapacity(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /**
   * Resolves once every region reported capacity with hosts that are up (or after `timeoutMs`):
   * start-up waits for it so that the first build does not find an empty tree.
   */
  async waitForCapacity(timeoutMs: number): Promise<boolean> {
    const ready = (): boolean => {
      const aggs = this.regionAggregates()
      return aggs.length > 0 && aggs.every((c) => c.up && c.hostsUp > 0 && Object.keys(c.flavorFits).length > 0)
    }
    if (ready()) return true
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        off()
        resolve(ready())
      }, timeoutMs)
      const off = this.onCapacity(() => {
        if (!ready()) return
        clearTimeout(timer)
        off()
        resolve(true)
      })
    })
  }

  /** The client of the region on the way to `cellPath`. */
  clientFor(cellPath: string): GrpcCellClient {
    const hop = nextHop(API_PATH, cellPath)
    const client = hop === undefined ? undefined : this.#watcher.client(hop)
    if (client === undefined) throw new NotFoundError(`cell ${cellPath} is not known to the API cell`)
    return client
  }

  /** Aggregates of the regions (optionally only `region`), down ones with `up: false`. */
  regionAggregates(region?: string | null): CellCapacity[] {
    const all = this.#watcher.childAggregates()
    return region === undefined || region === null ? all : all.filter((c) => c.path === `${API_PATH}!${region}`)
  }

  /** Every cell's latest report. */
  reports(): CellCapacity[] {
    return this.#watcher.reports()
  }

  /**
   * Whether the cell at `cellPath` is known to be down: its region is silent, or a report on the
   * way down to it says so (a cell that has never reported counts as down). The read path answers
   * from the index rather than wait on such a cell, and actions on its instances are refused.
   */
  isDown(cellPath: string, now = Date.now()): boolean {
    const region = nextHop(API_PATH, cellPath)
    if (region === undefined) return false
    const agg = this.#watcher.childAggregates(now).find((c) => c.path === region)
    if (agg === undefined || !agg.up) return true
    const reports = this.#watcher.reports(now)
    for (let path = region; path !== cellPath; ) {
      const next = nextHop(path, cellPath)
      if (next === undefined) break
      path = next
      const entries = reports.filter((c) => c.path === path)
      if (entries.length === 0 || entries.every((c) => !c.up)) return true
    }
    return false
  }

  /**
   * Applies events newer than the index's version, and the cursor, in one transaction: replays
   * and reorderings are harmless.
   */
  async applyEvents(child: string, events: readonly InstanceEvent[], cursor: number): Promise<void> {
    const region = child.split('!')[1] ?? null
    const retaken: string[] = []
    const deleted: string[] = []
    // Foreign events (see splitOwnedEvents) are dropped; those about a live copy of an instance
    // the API maps to another cell are orphans, whose copy is deleted (see #orphansOf).
    const orphans = await this.#orphansOf(events)
    await this.#db.transaction().execute(async (tx) => {
      const { owned, foreign } = await splitOwnedEvents(tx, events)
      if (foreign.length > 0) {
        this.#log.warn({ child, dropped: foreign.map((e) => [e.instanceUuid, e.cellPath]) }, 'dropped events about instances not mapped to the reporting cell')
      }
      for (const ev of owned) {
        const p = ev.payload
        if (p.reschedule !== undefined) {
          // A leaf handed the build back up: it becomes a build request again (reschedule-intake.ts).
          const taken = await takeBackBuild(tx, ev)
          if (taken === 'retaken') retaken.push(ev.instanceUuid)
          this.#log.info({ child, instance: ev.instanceUuid, from: ev.cellPath, version: ev.version, outcome: taken }, 'a cell handed a build back up the tree')
          continue
        }
        const row = indexRow(p, ev.cellPath, region, ev.version)
        const res = await tx
          .updateTable('instance_index')
          .set(row)
          .where('uuid', '=', ev.instanceUuid)
          .where('version', '<', ev.version)
          // An instance recorded in cell0 is final there: a leaf it was taken back from (a
          // multi-create rolled back) may still report its deletion, which must not show.
          .where((eb) => eb.or([eb('cell_path', 'is', null), eb('cell_path', '!=', CELL0_PATH)]))
          .executeTakeFirst()
        if (Number(res.numUpdatedRows) > 0) {
          if (p.deleted) {
            // Only the mapped copy's deletion is the instance's: a cross-cell move's other copy
            // (its target, whose events are owned while it is built) may be deleted on a revert.
            const m = await tx.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', ev.instanceUuid).executeTakeFirst()
            if (m?.cell_path === ev.cellPath) deleted.push(ev.instanceUuid)
          }
          continue
        }
        const exists = await tx.selectFrom('instance_index').select('uuid').where('uuid', '=', ev.instanceUuid).executeTakeFirst()
        if (exists === undefined) {
          await tx
            .insertInto('instance_index')
            .values({ ...row, uuid: ev.instanceUuid, reservation_id: '', created_at: p.createdAt })
            .execute()
        }
      }
      await tx.updateTable('cells').set({ event_cursor: cursor, updated_at: Date.now() }).where('path', '=', child).execute()
    })
    this.#log.debug({ child, events: events.length, cursor }, 'applied instance events')
    for (const uuid of retaken) for (const l of this.#rescheduled) l(uuid)
    for (const uuid of deleted) for (const l of this.#deleted) l(uuid)
    for (const [uuid, cellPath] of orphans) void this.#removeOrphan(uuid, cellPath)
  }

  /**
   * Live instances that a cell reports but that the API maps elsewhere: to cell0 (the build's
   * outcome was unknown at its placement deadline, so the API recorded it in ERROR there) or to
   * another cell (a stale copy). The mapping is the truth the API showed the user, so the rule is:
   * **the mapped copy wins, the reported copy is deleted in its cell**. No VM then runs that the
   * API does not show. A mapping without a cell is a build in flight, not an orphan.
   */
  async #orphansOf(events: readonly InstanceEvent[]): Promise<Map<string, string>> {
    const live = events.filter((e) => e.payload.reschedule === undefined && !e.payload.deleted)
    const orphans = new Map<string, string>()
    if (live.length === 0) return orphans
    const mappings = await this.#db
      .selectFrom('instance_mappings')
      .select(['instance_uuid', 'cell_path'])
      .where('instance_uuid', 'in', [...new Set(live.map((e) => e.instanceUuid))])
      .execute()
    const mapped = new Map(mappings.map((m) => [m.instance_uuid, m.cell_path]))
    // Neither copy of a move in flight is an orphan: the source and target of a cold migration or
    // resize across cells (cross_cell_migrations), the copy an unshelve is building (unshelve_moves).
    const uuids = [...mapped.keys()]
    const moving = await sagaCells(this.#db, uuids)
    const targets = await moveTargets(this.#db, uuids)
    for (const ev of live) {
      const cell = mapped.get(ev.instanceUuid)
      if (moving.get(ev.instanceUuid)?.has(ev.cellPath) === true) continue
      if (cell !== undefined && cell !== null && cell !== ev.cellPath && !fromMoveTarget(ev, targets)) orphans.set(ev.instanceUuid, ev.cellPath)
    }
    return orphans
  }

  /** Deletes the copy of `uuid` that `cellPath` holds though the API maps it elsewhere (see {@link CellTree.applyEvents}). */
  async #removeOrphan(uuid: string, cellPath: string): Promise<void> {
    this.#log.warn({ instance: uuid, cell: cellPath }, 'a cell reports an instance the API maps elsewhere: deleting that copy')
    for (let attempt = 0; attempt < 5; attempt += 1) {
      try {
        await this.clientFor(cellPath).instanceAction(systemContext(30_000), { cellPath, instanceUuid: uuid, action: 'delete', args: {} })
        return
      } catch (err) {
        if (err instanceof AppError && (err.status === 404 || err.code === 'not_found')) return
        this.#log.warn({ instance: uuid, cell: cellPath, err: String(err) }, 'deleting an orphaned copy failed; trying again')
        await sleep(Math.min(30_000, 1000 * 2 ** attempt))
      }
    }
  }

  /**
   * One anti-entropy pass over every region now: the index is compared with the leaves' versions and
   * what differs is rewritten from their records (see shared/cell-link/anti-entropy.ts).
   */
  reconcile(): Promise<ReconcileResult[]> {
    return this.#antiEntropy.runOnce()
  }

  /**
   * Read-your-writes for the index: an action that answered with the instance's new record (e.g.
   * os-resetState, lock, rename) updates the index at once instead of waiting for the event that
   * is on its way up; the version check makes the later event a no-op.
   */
  async applyRecord(r: InstanceRecord): Promise<void> {
    const region = r.cellPath.split('!')[1] ?? null
    const payload = indexPayloadOf(r)
    await this.#db
      .updateTable('instance_index')
      .set(indexRow(payload, r.cellPath, region, r.version))
      .where('uuid', '=', r.uuid)
      .where('version', '<', r.version)
      .where((eb) => eb.or([eb('cell_path', 'is', null), eb('cell_path', '!=', CELL0_PATH)]))
      .execute()
  }

  /**
   * Called with each instance whose deletion in its (mapped) cell the index has just applied: the
   * deletion is final at the top (the network service releases its ports). A replayed event does
   * not call again; listeners must be idempotent anyway (anti-entropy repairs do not call).
   */
  onDeleted(listener: (instanceUuid: string) => void): () => void {
    this.#deleted.add(listener)
    return () => {
      this.#deleted.delete(listener)
    }
  }

  /** Called with each build a leaf handed back up, once it is a build request again. */
  onRescheduled(listener: (instanceUuid: string) => void): () => void {
    this.#rescheduled.add(listener)
    return () => {
      this.#rescheduled.delete(listener)
    }
  }
}
