import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Kysely, Transaction } from 'kysely'
import type { FlavorSnapshot, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { outcomeOfError } from '../../../shared/cell-link/placement.js'
import type { RequestContext } from '../../../shared/context.js'
import { systemContext } from '../../../shared/context.js'
import { isDuplicateKey } from '../../../shared/db/database.js'
import { ConflictError, InvalidError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/logging.js'
import type { CellTree } from '../../cells/cell-tree.js'
import type { ComputeTables } from '../../db/compute-schema.js'
import type { SagaRow } from './saga-store.js'
import { FINAL_STATUSES, inFlightSaga, switchCellOnly, switchMapping, setStatus } from './saga-store.js'

/** Picks target cells for a flavor, best first (the global scheduler's cell filters and weighers over leaf reports). */
export type TargetRanker = (flavor: FlavorSnapshot, exclude: readonly string[]) => string[]

/** How a step ended: answered, or definitely refused (nothing kept). Unknown outcomes are asked again. */
type Answer<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string }

class SagaStopped extends Error {}

/** Pause before a saga whose step failed unexpectedly (not a cell's answer) is driven again. */
const RESUME_AFTER_ERROR_MS = 5000

/** What starts a cross-cell move. */
export interface StartArgs {
  readonly uuid: string
  readonly kind: 'migration' | 'resize'
  readonly sourceCell: string
  /** Resize: the new flavor; migration: the current one. */
  readonly flavor: FlavorSnapshot
  readonly oldFlavor: FlavorSnapshot
  /** An admin's target host (migrate 2.56), in `targetCell`. */
  readonly host?: string
  /** The target cells to try, best first. */
  readonly targets: readonly string[]
  /** Confirmed as soon as the target copy is ready (cellctl cell drain). */
  readonly autoConfirm?: boolean
}

/**
 * Cross-cell cold migration and resize, driven by the API cell as a saga (as Nova's cross-cell
 * resize since Ussuri): the source cell marks the instance; a target cell creates a copy with
 * the same uuid and claims for it (placed, refused or unknown; unknown is asked again of the same
 * cell, never routed elsewhere; refused tries the next cell); the source stops its guest; the
 * target creates its guest and the copy ends VERIFY_RESIZE, at which point the instance mapping
 * and the index row move to the target in one API DB transaction (Nova flips the mapping at the
 * same step). Confirm removes the source copy; revert removes the target copy, restarts the
 * source's guest and moves the mapping back. A step that fails definitely before VERIFY_RESIZE
 * is compensated: the target copy goes and the source runs as before. Every step is idempotent
 * in the cells, and the saga's step is written to `cross_cell_migrations` before the next one
 * starts, so {@link CrossCellMoves.resumeAll} carries on after an API restart.
 */
export class CrossCellMoves {
  readonly #db: Kysely<ComputeTables>
  readonly #tree: CellTree
  readonly #log: Logger
  readonly #retryMaxMs: number
  readonly #running = new Map<string, Promise<void>>()
  #stopped = false

  constructor(a: { db: Kysely<ComputeTables>; tree: CellTree; log: Logger; retryMaxMs?: number }) {
    this.#db = a.db
    this.#tree = a.tree
    this.#log = a.log
    this.#retryMaxMs = a.retryMaxMs ?? 2000
  }

  /**
   * Starts a move: the saga row, then the source's mark (a wrong state is the source's 409, and
   * nothing is kept). Answers the migration uuid; the rest runs in the background.
   */
  async start(ctx: RequestContext, a: StartArgs): Promise<string> {
    if (a.targets.length === 0) throw new InvalidError('No valid host was found. No other cell can take the instance')
    if ((await inFlightSaga(this.#db, a.uuid)) !== undefined) throw new ConflictError(`Instance ${a.uuid} is already moving to another cell`)
    const uuid = randomUUID()
    const now = Date.now()
    const ids = { project_id: ctx.projectId ?? '', user_id: ctx.userId ?? '' }
    const insert = this.#db
      .insertInto('cross_cell_migrations')
      .values({
        uuid,
        instance_uuid: a.uuid,
        active_instance: a.uuid,
        migration_type: a.kind,
        status: 'pre-migrating',
        source_cell: a.sourceCell,
        target_cell: a.targets[0] ?? null,
        source_host: '',
        source_node: '',
        dest_host: null,
        dest_node: null,
        requested_host: a.host ?? null,
        old_flavor: JSON.stringify(a.oldFlavor),
        new_flavor: JSON.stringify(a.flavor),
        previous_vm_state: 'active',
        instance: '{}',
        tried_cells: JSON.stringify(a.targets.slice(1)),
        auto_confirm: a.autoConfirm === true ? 1 : 0,
        message: null,
        created_at: now,
        updated_at: now,
        ...ids,
      })
    try {
      await insert.execute()
    } catch (err) {
      // A concurrent request started a move of the same instance first.
      if (isDuplicateKey(err)) throw new ConflictError(`Instance ${a.uuid} is already moving to another cell`)
      throw err
    }
    try {
      const begun = await this.#tree.clientFor(a.sourceCell).instanceAction(ctx, { cellPath: a.sourceCell, instanceUuid: a.uuid, action: 'xcell_source_begin', args: { kind: a.kind } })
      await this.#begun(uuid, begun)
    } catch (err) {
      if (outcomeOfError(err) === 'refused') {
        await setStatus(this.#db, uuid, 'pre-migrating', 'error', { message: messageOf(err).slice(0, 255) })
        throw err
      }
      this.#log.warn({ requestId: ctx.requestId, instance: a.uuid, err: String(err) }, 'cross-cell move: the source did not answer; asking again')
    }
    this.#kick(uuid, ctx.requestId)
    return uuid
  }

  /** Confirms a move in VERIFY_RESIZE: answered once the target copy is the instance again; the source copy goes in the background. */
  async confirm(ctx: RequestContext, m: SagaRow): Promise<FlavorSnapshot> {
    this.#targetUp(m, 'confirmResize')
    if (!(await setStatus(this.#db, m.uuid, 'finished', 'confirming'))) throw new ConflictError(`Migration ${m.uuid} changed concurrently`)
    this.#kick(m.uuid, ctx.requestId)
    return JSON.parse(m.new_flavor) as FlavorSnapshot
  }

  /** Nova's 409 for an action on an instance whose cell is down, as for any other action. */
  #targetUp(m: SagaRow, action: string): void {
    const cell = m.target_cell ?? ''
    if (this.#tree.isDown(cell)) throw new ConflictError(`Cannot '${action}' instance ${m.instance_uuid}: its cell ${cell} is down (status UNKNOWN)`)
  }

  /** Reverts a move in VERIFY_RESIZE (in the background: the target copy goes, the source runs again, the mapping moves back). */
  async revert(ctx: RequestContext, m: SagaRow): Promise<void> {
    this.#targetUp(m, 'revertResize')
    if (!(await setStatus(this.#db, m.uuid, 'finished', 'reverting'))) throw new ConflictError(`Migration ${m.uuid} changed concurrently`)
    this.#kick(m.uuid, ctx.requestId)
  }

  /**
   * The instance was deleted in VERIFY_RESIZE (its target copy, which the mapping names): the
   * source copy goes too, in the background, and the move ends in `error`.
   */
  async abandon(ctx: RequestContext, m: SagaRow): Promise<void> {
    if (await setStatus(this.#db, m.uuid, 'finished', 'abandoning', { message: 'the instance was deleted before confirm or revert' })) this.#kick(m.uuid, ctx.requestId)
  }

  /** Resumes every unfinished saga (API start-up). Returns how many. */
  async resumeAll(): Promise<number> {
    const rows = await this.#db.selectFrom('cross_cell_migrations').select('uuid').where('status', 'not in', [...FINAL_STATUSES, 'finished']).execute()
    for (const r of rows) this.#kick(r.uuid, systemContext().requestId)
    return rows.length
  }

  /** Waits for the running sagas to finish (tests, drain). */
  async settle(uuid?: string): Promise<void> {
    if (uuid !== undefined) await this.#running.get(uuid)
    else await Promise.all([...this.#running.values()])
  }

  /** Stops driving sagas (their rows stay; the next start resumes them). */
  async stop(): Promise<void> {
    this.#stopped = true
    await Promise.all([...this.#running.values()])
  }

  #kick(uuid: string, requestId: string): void {
    if (this.#running.has(uuid) || this.#stopped) return
    const run = this.#drive(uuid, { ...systemContext(), requestId })
      .then(
        () => false,
        (err: unknown) => {
          if (err instanceof SagaStopped) return false
          this.#log.error({ migration: uuid, err: String(err) }, 'cross-cell move: a step failed unexpectedly; resuming soon')
          return true
        },
      )
      .then((again) => {
        this.#running.delete(uuid)
        // A database hiccup, say: the step is durable, so the saga simply resumes from it.
        if (again) setTimeout(() => this.#kick(uuid, requestId), RESUME_AFTER_ERROR_MS).unref()
      })
    this.#running.set(uuid, run)
  }

  async #begun(uuid: string, answer: unknown): Promise<void> {
    const { record, keyData, actions } = answer as { record: InstanceRecord; keyData: string | null; actions?: unknown }
    await setStatus(this.#db, uuid, 'pre-migrating', 'preparing', {
      instance: JSON.stringify({ record, keyData, actions: Array.isArray(actions) ? actions : [] }),
      source_host: record.host ?? '',
      source_node: record.node ?? record.host ?? '',
      previous_vm_state: record.vmState,
    })
  }

  /** Asks `cell` for a step until it answers or refuses definitely (a down or silent cell is asked again, with back-off). */
  async #ask<T>(ctx: RequestContext, cell: string, uuid: string, action: string, args: unknown): Promise<Answer<T>> {
    let pause = 100
    for (;;) {
      if (this.#stopped) throw new SagaStopped()
      if (!this.#tree.isDown(cell)) {
        try {
          const value = (await this.#tree.clientFor(cell).instanceAction({ ...ctx, deadline: Date.now() + 130_000 }, { cellPath: cell, instanceUuid: uuid, action, args })) as T
          return { ok: true, value }
        } catch (err) {
          if (outcomeOfError(err) === 'refused') return { ok: false, message: messageOf(err) }
          this.#log.warn({ requestId: ctx.requestId, instance: uuid, cell, action, err: String(err) }, 'cross-cell move: outcome unknown; asking the same cell again')
        }
      }
      await sleep(pause / 2 + Math.random() * (pause / 2))
      pause = Math.min(this.#retryMaxMs, pause * 2)
    }
  }

  /** Asks until answered; a refusal is logged and taken as done (cleanup steps: nothing left to undo). */
  async #askDone(ctx: RequestContext, cell: string, uuid: string, action: string, args: unknown): Promise<unknown> {
    const out = await this.#ask(ctx, cell, uuid, action, args)
    if (!out.ok) this.#log.warn({ requestId: ctx.requestId, instance: uuid, cell, action, err: out.message }, 'cross-cell move: step refused; nothing to undo there')
    return out.ok ? out.value : undefined
  }

  async #confirmTarget(ctx: RequestContext, m: SagaRow): Promise<void> {
    const vmState = m.previous_vm_state === 'stopped' ? 'stopped' : 'active'
    const target = m.target_cell ?? ''
    const record = (await this.#askDone(ctx, target, m.instance_uuid, 'xcell_target_confirm', { vmState })) as InstanceRecord | undefined
    if (record !== undefined) await this.#tree.applyRecord(record)
  }

  async #drive(uuid: string, ctx: RequestContext): Promise<void> {
    for (;;) {
      const m = await this.#db.selectFrom('cross_cell_migrations').selectAll().where('uuid', '=', uuid).executeTakeFirst()
      if (m === undefined || FINAL_STATUSES.includes(m.status) || m.status === 'finished') return
      const inst = m.instance_uuid
      const target = m.target_cell ?? ''
      switch (m.status) {
        case 'pre-migrating': {
          const out = await this.#ask(ctx, m.source_cell, inst, 'xcell_source_begin', { kind: m.migration_type === 'resize' ? 'resize' : 'migrate' })
          if (out.ok) await this.#begun(uuid, out.value)
          else await setStatus(this.#db, uuid, m.status, 'error', { message: out.message.slice(0, 255) })
          break
        }
        case 'preparing': {
          const { record, keyData, actions } = JSON.parse(m.instance) as { record: InstanceRecord; keyData: string | null; actions?: unknown }
          const args = { instance: record, keyData, actions: actions ?? [], flavor: JSON.parse(m.new_flavor) as unknown, kind: m.migration_type === 'resize' ? 'resize' : 'migrate', ...(m.requested_host === null ? {} : { host: m.requested_host }) }
          const out = await this.#ask<{ host: string; node: string }>(ctx, target, inst, 'xcell_target_prepare', args)
          if (out.ok) {
            await setStatus(this.#db, uuid, m.status, 'migrating', { dest_host: out.value.host, dest_node: out.value.node })
            break
          }
          this.#log.warn({ requestId: ctx.requestId, instance: inst, cell: target, err: out.message }, 'cross-cell move: the target cell refused')
          const remaining = JSON.parse(m.tried_cells) as string[]
          const first = remaining[0]
          if (first !== undefined) await setStatus(this.#db, uuid, m.status, 'preparing', { target_cell: first, tried_cells: JSON.stringify(remaining.slice(1)) })
          else await setStatus(this.#db, uuid, m.status, 'compensating', { target_cell: null, message: `No valid host was found. ${out.message}`.slice(0, 255) })
          break
        }
        case 'migrating': {
          const out = await this.#ask(ctx, m.source_cell, inst, 'xcell_source_stop', {})
          await setStatus(this.#db, uuid, m.status, out.ok ? 'post-migrating' : 'compensating', out.ok ? {} : { message: out.message.slice(0, 255) })
          break
        }
        case 'post-migrating': {
          const out = await this.#ask<InstanceRecord>(ctx, target, inst, 'xcell_target_finish', { powerOn: m.previous_vm_state === 'active' })
          if (!out.ok) {
            await setStatus(this.#db, uuid, m.status, 'compensating', { message: out.message.slice(0, 255) })
            break
          }
          await this.#db.transaction().execute(async (tx) => {
            if (await setStatus(tx, uuid, m.status, m.auto_confirm === 1 ? 'confirming' : 'finished')) await switchMapping(tx, out.value, target)
          })
          this.#log.info({ requestId: ctx.requestId, instance: inst, source: m.source_cell, target }, 'cross-cell move: the instance is in its target cell (VERIFY_RESIZE)')
          if (m.auto_confirm === 1) await this.#confirmTarget(ctx, { ...m, status: 'confirming' })
          break
        }
        case 'confirming': {
          await this.#confirmTarget(ctx, m)
          await this.#askDone(ctx, m.source_cell, inst, 'xcell_source_drop', {})
          await setStatus(this.#db, uuid, m.status, 'confirmed')
          this.#log.info({ requestId: ctx.requestId, instance: inst, source: m.source_cell, target }, 'cross-cell move confirmed: the source copy is gone')
          break
        }
        case 'reverting': {
          await this.#askDone(ctx, target, inst, 'xcell_target_cleanup', {})
          const back = await this.#askDone(ctx, m.source_cell, inst, 'xcell_source_restore', {})
          await this.#db.transaction().execute(async (tx) => {
            if (await setStatus(tx, uuid, m.status, 'reverted')) {
              // Without the source's record, the cell alone moves back: anti-entropy rewrites the row from the source.
              if (back !== undefined) await switchMapping(tx, back as InstanceRecord, m.source_cell)
              else await switchCellOnly(tx, inst, m.source_cell)
              await this.#chargeOld(tx, m)
            }
          })
          break
        }
        case 'abandoning': {
          await this.#askDone(ctx, m.source_cell, inst, 'xcell_source_drop', {})
          await setStatus(this.#db, uuid, m.status, 'error')
          break
        }
        case 'compensating': {
          if (target !== '') await this.#askDone(ctx, target, inst, 'xcell_target_cleanup', {})
          const back = await this.#askDone(ctx, m.source_cell, inst, 'xcell_source_restore', { failed: true, message: m.message ?? 'the move failed' })
          if (back !== undefined) await this.#tree.applyRecord(back as InstanceRecord)
          await this.#db.transaction().execute(async (tx) => {
            if (await setStatus(tx, uuid, m.status, 'error')) await this.#chargeOld(tx, m)
          })
          this.#log.warn({ requestId: ctx.requestId, instance: inst, err: m.message }, 'cross-cell move failed; the instance stays in its source cell')
          break
        }
        default:
          return
      }
    }
  }

  /** The quota usage follows the old flavor again (a resize reverted or rolled back). */
  async #chargeOld(tx: Transaction<ComputeTables>, m: SagaRow): Promise<void> {
    const f = JSON.parse(m.old_flavor) as FlavorSnapshot
    await tx.updateTable('quota_instance_usage').set({ vcpus: f.vcpus, memory_mb: f.memoryMb }).where('instance_uuid', '=', m.instance_uuid).execute()
  }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))
