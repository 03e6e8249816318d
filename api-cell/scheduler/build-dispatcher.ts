import type { Kysely } from 'kysely'
import type { BuildSpec, InstanceRecord } from '../../shared/cell-link/build-spec.js'
import { BUILD_SPEC_VERSION } from '../../shared/cell-link/build-spec.js'
import type { CellCapacity } from '../../shared/cell-link/types.js'
import type { RequestContext } from '../../shared/context.js'
import type { Logger } from '../../shared/logging.js'
import { recordBuild } from '../../shared/metrics/cell-metrics.js'
import type { CellBuildRequest, CellRanking } from '../../shared/scheduling/cell-ranking.js'
import type { Cell0Store } from '../cells/cell0.js'
import { CELL0_PATH } from '../cells/cell0.js'
import type { CellTree } from '../cells/cell-tree.js'
import type { ComputeTables } from '../db/compute-schema.js'

/** Settings of the global scheduler. */
export interface DispatcherSettings {
  /** How many regions a build tries before it goes to cell0. */
  readonly maxCellAttempts: number
  /** Ranks the regions for a build (cell filters and weighers). */
  readonly rank: (candidates: readonly CellCapacity[], req: CellBuildRequest) => CellRanking
}

/**
 * The global scheduler's driver: takes accepted build requests (already answered 202), picks a
 * region from reported capacity, sends the build down with a deadline, tries the next region on a
 * NACK, and records the outcome: the instance mapping's cell, or cell0 in ERROR when the whole tree
 * said no. Pending build requests are re-driven at start-up (a build is idempotent in the leaf),
 * so an API crash between 202 and dispatch loses nothing.
 */
export class BuildDispatcher {
  readonly #db: Kysely<ComputeTables>
  readonly #tree: CellTree
  readonly #cell0: Cell0Store
  readonly #s: DispatcherSettings
  readonly #log: Logger
  readonly #inflight = new Set<Promise<void>>()

  constructor(args: { db: Kysely<ComputeTables>; tree: CellTree; cell0: Cell0Store; settings: DispatcherSettings; log: Logger }) {
    this.#db = args.db
    this.#tree = args.tree
    this.#cell0 = args.cell0
    this.#s = args.settings
    this.#log = args.log
  }

  /** Starts dispatching one build in the background. */
  enqueue(ctx: RequestContext, uuid: string): void {
    const started = Date.now()
    const p = this.dispatch(ctx, uuid).then(
      (result) => {
        if (result !== undefined) recordBuild(result, started)
      },
      (err: unknown) => {
        recordBuild('failed', started)
        this.#log.error({ requestId: ctx.requestId, instance: uuid, err: String(err) }, 'build dispatch failed')
      },
    )
    this.#inflight.add(p)
    void p.finally(() => this.#inflight.delete(p))
  }

  /** Re-drives every build request that has no cell yet (after a restart). */
  async resumePending(ctx: RequestContext): Promise<number> {
    const rows = await this.#db
      .selectFrom('build_requests')
      .innerJoin('instance_mappings', 'instance_mappings.instance_uuid', 'build_requests.instance_uuid')
      .select('build_requests.instance_uuid')
      .where('instance_mappings.cell_path', 'is', null)
      .execute()
    for (const r of rows) this.enqueue(ctx, r.instance_uuid)
    return rows.length
  }

  /** Waits for every dispatch under way (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight])
  }

  /** Places one build; says where it ended (undefined: no build request, e.g. deleted meanwhile). */
  async dispatch(ctx: RequestContext, uuid: string): Promise<'placed' | 'cell0' | undefined> {
    const br = await this.#db.selectFrom('build_requests').selectAll().where('instance_uuid', '=', uuid).executeTakeFirst()
    if (br === undefined) return undefined
    const spec = JSON.parse(br.spec) as BuildSpec
    const req: CellBuildRequest = {
      flavorId: spec.flavor.id,
      memoryMb: spec.flavor.memoryMb,
      vcpus: spec.flavor.vcpus,
      diskGb: spec.flavor.rootGb + spec.flavor.ephemeralGb + Math.ceil(spec.flavor.swapMb / 1024),
      availabilityZone: spec.availabilityZone,
      triedCells: [],
      imageProperties: spec.image.properties,
      hints: spec.schedulerHints,
      isAdmin: ctx.roles?.includes('admin') ?? false,
    }
    const ranking = this.#s.rank(this.#tree.regionAggregates(br.region), req)
    const reasons = Object.entries(ranking.rejected).map(([p, why]) => `${p}: ${why}`)
    const tried: string[] = []
    for (const cand of ranking.ranked.slice(0, this.#s.maxCellAttempts)) {
      try {
        const out = await this.#tree.clientFor(cand.path).build(ctx, {
          instanceUuid: uuid,
          spec,
          specVersion: BUILD_SPEC_VERSION,
          triedCells: tried,
        })
        if (out.accepted) {
          await this.#placed(ctx, uuid, out.cellPath)
          this.#log.info({ requestId: ctx.requestId, instance: uuid, cell: out.cellPath, host: out.host }, 'build placed')
          return 'placed'
        }
        reasons.push(`${cand.path}: ${out.reason}`)
      } catch (err) {
        reasons.push(`${cand.path}: ${err instanceof Error ? err.message : String(err)}`)
      }
      tried.push(cand.path)
    }
    await this.#toCell0(ctx, spec, reasons)
    return 'cell0'
  }

  /** Records where the build went; a delete that raced the build is sent after it. */
  async #placed(ctx: RequestContext, uuid: string, cellPath: string): Promise<void> {
    const stillWanted = await this.#db.transaction().execute(async (tx) => {
      await tx.updateTable('instance_mappings').set({ cell_path: cellPath }).where('instance_uuid', '=', uuid).execute()
      await tx.updateTable('instance_index').set({ cell_path: cellPath }).where('uuid', '=', uuid).execute()
      const del = await tx.deleteFrom('build_requests').where('instance_uuid', '=', uuid).executeTakeFirst()
      return Number(del.numDeletedRows) === 1
    })
    if (!stillWanted) {
      this.#log.info({ requestId: ctx.requestId, instance: uuid }, 'deleted while building: deleting in its cell')
      await this.#tree
        .clientFor(cellPath)
        .instanceAction(ctx, { cellPath, instanceUuid: uuid, action: 'delete', args: {} })
        .catch((err: unknown) => this.#log.warn({ instance: uuid, err: String(err) }, 'delete after build failed'))
    }
  }

  async #toCell0(ctx: RequestContext, spec: BuildSpec, reasons: readonly string[]): Promise<void> {
    const now = Date.now()
    const message = `No valid host was found. ${reasons.length === 0 ? 'There are no cells to schedule to.' : reasons.join('; ')}`
    const record: InstanceRecord = {
      uuid: spec.instanceUuid,
      name: spec.name,
      hostname: spec.hostname,
      projectId: spec.projectId,
      userId: spec.userId,
      cellPath: CELL0_PATH,
      host: null,
      node: null,
      availabilityZone: spec.availabilityZone,
      flavor: spec.flavor,
      imageRef: spec.image.id,
      vmState: 'error',
      taskState: null,
      powerState: 0,
      keyName: spec.keyName,
      metadata: spec.metadata,
      userData: spec.userData,
      description: spec.description,
      reservationId: spec.reservationId,
      launchIndex: spec.launchIndex,
      locked: false,
      lockedBy: null,
      lockedReason: null,
      configDrive: '',
      accessIpV4: null,
      accessIpV6: null,
      fault: { code: 500, message: message.slice(0, 255), created: now, details: message },
      version: 1,
      launchedAt: null,
      terminatedAt: null,
      createdAt: spec.createdAt,
      updatedAt: now,
      deleted: false,
    }
    await this.#cell0.put(record)
    const uuid = spec.instanceUuid
    await this.#db.transaction().execute(async (tx) => {
      await tx.updateTable('instance_mappings').set({ cell_path: CELL0_PATH }).where('instance_uuid', '=', uuid).execute()
      await tx
        .updateTable('instance_index')
        .set({ cell_path: CELL0_PATH, vm_state: 'error', task_state: null, updated_at: now })
        .where('uuid', '=', uuid)
        .execute()
      await tx.deleteFrom('build_requests').where('instance_uuid', '=', uuid).execute()
    })
    this.#log.warn({ requestId: ctx.requestId, instance: uuid, reasons }, 'no cell could take the build: recorded in cell0')
  }
}
