import type { Kysely } from 'kysely'
import { indexPayloadOf } from '../../shared/cell-link/anti-entropy.js'
import type { BuildSpec, InstanceRecord } from '../../shared/cell-link/build-spec.js'
import { placeAcrossChildren } from '../../shared/cell-link/placement.js'
import type { CellLink } from '../../shared/cell-link/types.js'
import type { RequestContext } from '../../shared/context.js'
import { AppError, ConflictError } from '../../shared/errors.js'
import type { Logger } from '../../shared/logging.js'
import { isDuplicateKey } from '../../shared/db/database.js'
import { indexRow } from '../cells/index-repair.js'
import { moveMapping } from '../cells/mapping-move.js'
import type { ComputeTables, UnshelveMovesTable } from '../db/compute-schema.js'

/** What the mover needs of the cell tree and the image service. */
export interface UnshelveMoverDeps {
  readonly db: Kysely<ComputeTables>
  /** The link towards a cell (the region on the way); throws or undefined when there is none. */
  readonly clientFor: (cellPath: string) => CellLink
  readonly log: Logger
  /** Deletes the shelved image once the instance runs from it elsewhere (Nova deletes it on unshelve). */
  readonly discardImage?: (imageId: string, instanceUuid: string) => Promise<void>
  /** Regions asked at most before the unshelve is given up (default 3). */
  readonly maxCellAttempts?: number
  /** How long one placement may take, in ms (default 60 s); unknown at the end: asked again later. */
  readonly placementDeadlineMs?: number
}

/** An unshelve into another cell, as the API route decided it. */
export interface UnshelvePlan {
  readonly instanceUuid: string
  /** The cell holding the offloaded record. */
  readonly sourceCell: string
  /** Regions (children of the API cell) to try, best first. */
  readonly ranked: readonly string[]
  /** The build: same uuid, `image` the shelved snapshot, `unshelveImageRef` the instance's image. */
  readonly spec: BuildSpec
  /**
   * The unshelve's arguments in the source cell, sent there when every other cell refused: that
   * cell tries its own hosts and records the fault and the action's error if it cannot either.
   * Absent: the instance just stays offloaded.
   */
  readonly fallback?: Readonly<Record<string, unknown>>
}

type Row = UnshelveMovesTable

const MAX_RETRY_DELAY_MS = 15_000

/** The move is not over yet and is looked at again later (a guest still spawning, an unknown outcome). */
class NotYet extends Error {}

/**
 * Unshelve of a SHELVED_OFFLOADED instance into another cell (Nova: "may land in any cell the
 * scheduler picks"), as a saga whose step is kept in the API DB (`unshelve_moves`):
 *
 * 1. `placing`: the build goes down the tree with the instance's uuid, the source cell in
 *    `triedCells`. Placed, refused or unknown (placement.ts): only a refusal moves on to the next
 *    region; unknown is asked of the same cell again (remembered in the row); refused by all, the
 *    row goes and the instance stays SHELVED_OFFLOADED where it was.
 * 2. `moving`: the instance mapping and the index row move to the target cell in one transaction
 *    (mapping-move.ts). Deleted meanwhile: the new copy is deleted instead.
 * 3. `dropping`: once the new guest has settled, the source cell deletes its offloaded record
 *    (its events are foreign by then), the shelved image is deleted and the row goes. A copy
 *    that failed to spawn is undone instead: the instance stays offloaded where it was.
 *
 * Every step is idempotent; a failed step is retried with back-off, and {@link resumePending}
 * re-drives every row at API start, so a crash at any point resumes where it stopped. While the row
 * exists, the target cell's events count as the instance's own and its copy is no orphan
 * (moves-in-flight.ts).
 */
export class UnshelveMover {
  readonly #d: UnshelveMoverDeps
  readonly #inflight = new Set<Promise<void>>()
  readonly #retries = new Set<NodeJS.Timeout>()
  readonly #running = new Set<string>()
  #closed = false

  constructor(deps: UnshelveMoverDeps) {
    this.#d = deps
  }

  /**
   * Records the move (409 when one is already under way for the instance), shows the instance
   * `unshelving` in the index, and runs the move in the background.
   */
  async start(ctx: RequestContext, plan: UnshelvePlan): Promise<void> {
    try {
      await this.#d.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('unshelve_moves')
          .values({
            instance_uuid: plan.instanceUuid,
            source_cell: plan.sourceCell,
            target_cell: null,
            target_host: null,
            step: 'placing',
            ranked: JSON.stringify(plan.ranked),
            spec: JSON.stringify(plan.spec),
            fallback: plan.fallback === undefined ? null : JSON.stringify(plan.fallback),
            created_at: Date.now(),
          })
          .execute()
        await tx.updateTable('instance_index').set({ task_state: 'unshelving' }).where('uuid', '=', plan.instanceUuid).execute()
      })
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConflictError(`Cannot 'unshelve' instance ${plan.instanceUuid} while it is in task_state unshelving`)
      throw err
    }
    this.#track(ctx, plan.instanceUuid)
  }

  /**
   * Whether a move of `uuid` is under way and the API must refuse other actions: until the mapping
   * has moved. While the source's record is dropped, the instance already lives in its new cell.
   */
  async inFlight(uuid: string): Promise<boolean> {
    const row = await this.#d.db.selectFrom('unshelve_moves').select('step').where('instance_uuid', '=', uuid).executeTakeFirst()
    return row !== undefined && row.step !== 'dropping'
  }

  /** Re-drives every move recorded before a restart. */
  async resumePending(ctx: RequestContext): Promise<number> {
    const rows = await this.#d.db.selectFrom('unshelve_moves').select('instance_uuid').execute()
    for (const r of rows) this.#track(ctx, r.instance_uuid)
    return rows.length
  }

  /** Stops retrying and waits for the steps under way; what is left resumes at the next start. */
  async drain(): Promise<void> {
    this.#closed = true
    for (const t of this.#retries) clearTimeout(t)
    this.#retries.clear()
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight])
  }

  #track(ctx: RequestContext, uuid: string, attempt = 0): void {
    if (this.#running.has(uuid)) return
    this.#running.add(uuid)
    const p = this.run(ctx, uuid)
      .then(() => {
        this.#running.delete(uuid)
      })
      .catch((err: unknown) => {
        this.#running.delete(uuid)
        if (this.#closed) return
        // A guest still spawning is looked at again soon; a failing step backs off further.
        const delay = Math.min(err instanceof NotYet ? 2000 : MAX_RETRY_DELAY_MS, 250 * 2 ** attempt)
        if (!(err instanceof NotYet)) this.#d.log.warn({ requestId: ctx.requestId, instance: uuid, err: String(err), retryInMs: delay }, 'unshelve move: step failed, trying again')
        const timer = setTimeout(() => {
          this.#retries.delete(timer)
          this.#track(ctx, uuid, attempt + 1)
        }, delay)
        timer.unref()
        this.#retries.add(timer)
      })
    this.#inflight.add(p)
    void p.finally(() => this.#inflight.delete(p))
  }

  /** Runs the move of `uuid` from its recorded step to the end (or until a step must wait). */
  async run(ctx: RequestContext, uuid: string): Promise<void> {
    for (;;) {
      const row = await this.#d.db.selectFrom('unshelve_moves').selectAll().where('instance_uuid', '=', uuid).executeTakeFirst()
      if (row === undefined) return
      const more = await this.#step(ctx, row)
      if (!more) return
    }
  }

  /** One step; true when the next step follows at once. */
  async #step(ctx: RequestContext, row: Row): Promise<boolean> {
    switch (row.step) {
      case 'placing':
        return this.#place(ctx, row)
      case 'moving':
        return this.#move(ctx, row)
      case 'dropping':
        await this.#drop(ctx, row)
        return false
    }
  }

  async #place(ctx: RequestContext, row: Row): Promise<boolean> {
    const uuid = row.instance_uuid
    const spec = JSON.parse(row.spec) as BuildSpec
    const setTarget = async (cell: string | null): Promise<void> => {
      await this.#d.db.updateTable('unshelve_moves').set({ target_cell: cell }).where('instance_uuid', '=', uuid).execute()
    }
    const out = await placeAcrossChildren({
      ctx: { ...ctx, deadline: Date.now() + (this.#d.placementDeadlineMs ?? 60_000) },
      call: { instanceUuid: uuid, spec, triedCells: [row.source_cell] },
      ranked: JSON.parse(row.ranked) as string[],
      maxAttempts: this.#d.maxCellAttempts ?? 3,
      clientFor: (path) => {
        try {
          return this.#d.clientFor(path)
        } catch {
          return undefined
        }
      },
      remembered: row.target_cell ?? undefined,
      remember: (path) => setTarget(path),
      forget: () => setTarget(null),
      onUnknown: (path, err) => this.#d.log.warn({ requestId: ctx.requestId, instance: uuid, cell: path, err: String(err) }, 'unshelve move: outcome unknown, asking the same cell again'),
    })
    if (out.kind === 'unknown') throw new Error(`placement outcome unknown: ${out.reasons.join('; ')}`)
    if (out.kind === 'refused') {
      // Nothing was kept anywhere: the instance stays SHELVED_OFFLOADED in its cell.
      await this.#d.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('unshelve_moves').where('instance_uuid', '=', uuid).execute()
        await tx.updateTable('instance_index').set({ task_state: null }).where('uuid', '=', uuid).where('task_state', '=', 'unshelving').execute()
      })
      this.#d.log.warn({ requestId: ctx.requestId, instance: uuid, reasons: out.reasons }, 'unshelve: no other cell could take the instance')
      if (row.fallback !== null && row.fallback !== undefined) {
        const source = row.source_cell
        await this.#d
          .clientFor(source)
          .instanceAction({ ...ctx, deadline: Date.now() + 30_000 }, { cellPath: source, instanceUuid: uuid, action: 'unshelve', args: JSON.parse(row.fallback) as Record<string, unknown> })
          .catch((err: unknown) => this.#d.log.warn({ requestId: ctx.requestId, instance: uuid, err: String(err) }, 'unshelve in its own cell refused; it stays SHELVED_OFFLOADED'))
      }
      return false
    }
    await this.#d.db
      .updateTable('unshelve_moves')
      .set({ step: 'moving', target_cell: out.cellPath, target_host: out.host })
      .where('instance_uuid', '=', uuid)
      .where('step', '=', 'placing')
      .execute()
    this.#d.log.info({ requestId: ctx.requestId, instance: uuid, from: row.source_cell, to: out.cellPath, host: out.host }, 'unshelve: placed in another cell')
    return true
  }

  async #move(ctx: RequestContext, row: Row): Promise<boolean> {
    const uuid = row.instance_uuid
    const target = row.target_cell ?? ''
    const result = await this.#d.db.transaction().execute(async (tx) => {
      const r = await moveMapping(tx, { instanceUuid: uuid, fromCell: row.source_cell, toCell: target, host: row.target_host })
      if (r === 'moved' || r === 'already') await tx.updateTable('unshelve_moves').set({ step: 'dropping' }).where('instance_uuid', '=', uuid).execute()
      return r
    })
    if (result === 'moved' || result === 'already') return true
    // Deleted while it moved (or, impossibly, mapped to a third cell): the new copy goes.
    this.#d.log.warn({ requestId: ctx.requestId, instance: uuid, result }, 'unshelve: the instance changed while it moved; deleting the new copy')
    await this.#deleteIn(ctx, target, uuid)
    await this.#d.db.deleteFrom('unshelve_moves').where('instance_uuid', '=', uuid).execute()
    return false
  }

  /**
   * The source's offloaded record goes only once the new copy has settled (ACTIVE, or ERROR
   * wherever a reschedule took it), so the instance is never left without a record. A copy that
   * failed to spawn and was handed back up before the mapping moved (its event then was not the
   * instance's own) is found gone in its cell, and a copy in ERROR there is deleted: either way
   * the move is undone and the instance stays offloaded in its cell.
   */
  async #drop(ctx: RequestContext, row: Row): Promise<void> {
    const uuid = row.instance_uuid
    const mapping = await this.#d.db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', uuid).executeTakeFirst()
    const idx = await this.#d.db.selectFrom('instance_index').select(['vm_state', 'task_state']).where('uuid', '=', uuid).executeTakeFirst()
    const settled = idx === undefined || idx.vm_state === 'deleted' || (idx.task_state === null && idx.vm_state !== 'building' && idx.vm_state !== 'shelved_offloaded')
    if (!settled) {
      if (mapping?.cell_path === row.target_cell && row.target_cell !== null && !(await this.#liveIn(ctx, row.target_cell, uuid))) {
        await this.#undo(ctx, row)
        return
      }
      // Still spawning, or a reschedule is taking the build to yet another cell.
      throw new NotYet('the new guest has not settled yet')
    }
    if (idx?.vm_state === 'error' && mapping?.cell_path === row.target_cell && row.target_cell !== null) {
      // The copy ended in ERROR in its cell: back to the offloaded record, then the copy goes (its
      // events are foreign from the undo on, so they cannot make the instance look deleted).
      await this.#undo(ctx, row)
      await this.#deleteIn(ctx, row.target_cell, uuid).catch((err: unknown) =>
        this.#d.log.warn({ requestId: ctx.requestId, instance: uuid, cell: row.target_cell, err: String(err) }, 'unshelve: the failed copy was not deleted yet (anti-entropy removes it as an orphan)'),
      )
      return
    }
    await this.#deleteIn(ctx, row.source_cell, uuid)
    const spec = JSON.parse(row.spec) as BuildSpec
    // An instance a reschedule left in ERROR elsewhere (cell0) keeps its shelved image.
    if (this.#d.discardImage !== undefined && idx?.vm_state !== 'error') await this.#d.discardImage(spec.image.id, uuid)
    await this.#d.db.deleteFrom('unshelve_moves').where('instance_uuid', '=', uuid).execute()
    this.#d.log.info({ requestId: ctx.requestId, instance: uuid, from: row.source_cell, to: mapping?.cell_path }, 'unshelve: moved to another cell')
  }

  /** Whether `cellPath` holds a live (not deleted) record of `uuid`. */
  async #liveIn(ctx: RequestContext, cellPath: string, uuid: string): Promise<boolean> {
    const found = (await this.#d.clientFor(cellPath).getInstances({ ...ctx, deadline: Date.now() + 30_000 }, { cellPath, uuids: [uuid] })) as InstanceRecord[]
    return found.some((r) => r.uuid === uuid && !r.deleted)
  }

  /**
   * The new copy is gone (its spawn failed everywhere in its cell): the mapping goes back to the
   * source, whose offloaded record was kept, and the index shows that record again (the failed
   * copy's events, foreign from now on, are dropped; anti-entropy skips a build handed back up).
   */
  async #undo(ctx: RequestContext, row: Row): Promise<void> {
    const uuid = row.instance_uuid
    const source = row.source_cell
    const found = (await this.#d.clientFor(source).getInstances({ ...ctx, deadline: Date.now() + 30_000 }, { cellPath: source, uuids: [uuid] })) as InstanceRecord[]
    const rec = found.find((r) => r.uuid === uuid)
    await this.#d.db.transaction().execute(async (tx) => {
      const back = await moveMapping(tx, { instanceUuid: uuid, fromCell: row.target_cell ?? '', toCell: source, host: null })
      if (rec !== undefined && back === 'moved') {
        await tx.updateTable('instance_index').set(indexRow(indexPayloadOf(rec), source, source.split('!')[1] ?? null, rec.version)).where('uuid', '=', uuid).execute()
      }
      await tx.deleteFrom('unshelve_moves').where('instance_uuid', '=', uuid).execute()
    })
    this.#d.log.error({ requestId: ctx.requestId, instance: uuid, source, target: row.target_cell }, 'unshelve: the new copy failed to spawn; the instance stays offloaded in its cell')
  }

  /** Deletes the instance's record in `cellPath`; one already gone counts as deleted. */
  async #deleteIn(ctx: RequestContext, cellPath: string, uuid: string): Promise<void> {
    try {
      await this.#d.clientFor(cellPath).instanceAction({ ...ctx, deadline: Date.now() + 30_000 }, { cellPath, instanceUuid: uuid, action: 'delete', args: {} })
    } catch (err) {
      if (err instanceof AppError && (err.status === 404 || err.code === 'not_found')) return
      throw err
    }
  }
}
