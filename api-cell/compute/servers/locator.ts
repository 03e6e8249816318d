import type { Kysely, Selectable } from 'kysely'
import type { BuildSpec, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { recordFromSpec } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { AppError, CellUnreachableError, NotFoundError } from '../../../shared/errors.js'
import type { Cell0Store } from '../../cells/cell0.js'
import { CELL0_PATH } from '../../cells/cell0.js'
import type { CellTree } from '../../cells/cell-tree.js'
import type { ComputeTables, InstanceIndexTable, InstanceMappingsTable } from '../../db/compute-schema.js'

/**
 * The longest a read waits on a cell that is not (yet) known to be down; past it the servers are
 * shown from the index as UNKNOWN.
 */
const READ_BUDGET_MS = 5_000

/** Who asks, for visibility rules. */
export interface Caller {
  readonly projectId: string
  readonly isAdmin: boolean
}

/** An instance as the API found it, and whether its cell could answer. */
export interface Located {
  readonly record: InstanceRecord
  readonly mapping: Selectable<InstanceMappingsTable>
  /** The owning cell is unreachable: the record is rebuilt from the index. */
  readonly unknown: boolean
}

/**
 * Finds instances wherever they are: a pending build request (no cell yet), cell0, or the owning
 * leaf over gRPC. Another project's instance is a 404, never a 403.
 */
export class InstanceLocator {
  readonly #db: Kysely<ComputeTables>
  readonly #tree: CellTree
  readonly #cell0: Cell0Store

  constructor(args: { db: Kysely<ComputeTables>; tree: CellTree; cell0: Cell0Store }) {
    this.#db = args.db
    this.#tree = args.tree
    this.#cell0 = args.cell0
  }

  /** The mapping of `uuid` the caller may see, else 404. */
  async mapping(caller: Caller, uuid: string): Promise<Selectable<InstanceMappingsTable>> {
    const m = await this.#db.selectFrom('instance_mappings').selectAll().where('instance_uuid', '=', uuid).executeTakeFirst()
    // A build deleted before it reached a cell keeps its mapping (queued_for_delete): it is gone.
    const gone = m !== undefined && m.queued_for_delete === 1 && m.cell_path === null
    if (m === undefined || gone || (!caller.isAdmin && m.project_id !== caller.projectId)) {
      throw new NotFoundError(`Instance ${uuid} could not be found.`)
    }
    return m
  }

  async get(ctx: RequestContext, caller: Caller, uuid: string): Promise<Located> {
    const mapping = await this.mapping(caller, uuid)
    const [found] = await this.#fetch(ctx, [mapping])
    if (found === undefined || found.record.deleted) throw new NotFoundError(`Instance ${uuid} could not be found.`)
    return found
  }

  /** Records for index rows, in the rows' order; missing (deleted meanwhile) ones are skipped. */
  async many(ctx: RequestContext, rows: readonly Selectable<InstanceIndexTable>[]): Promise<Located[]> {
    if (rows.length === 0) return []
    const mappings = await this.#db
      .selectFrom('instance_mappings')
      .selectAll()
      .where(
        'instance_uuid',
        'in',
        rows.map((r) => r.uuid),
      )
      .execute()
    const byUuid = new Map((await this.#fetch(ctx, mappings, rows)).map((l) => [l.record.uuid, l]))
    return rows.map((r) => byUuid.get(r.uuid)).filter((l): l is Located => l !== undefined && !l.record.deleted)
  }

  async #fetch(
    ctx: RequestContext,
    mappings: readonly Selectable<InstanceMappingsTable>[],
    indexRows?: readonly Selectable<InstanceIndexTable>[],
  ): Promise<Located[]> {
    const byCell = new Map<string | null, Selectable<InstanceMappingsTable>[]>()
    for (const m of mappings) {
      const list = byCell.get(m.cell_path) ?? []
      list.push(m)
      byCell.set(m.cell_path, list)
    }
    const out: Located[] = []
    await Promise.all(
      [...byCell.entries()].map(async ([cell, ms]) => {
        const uuids = ms.map((m) => m.instance_uuid)
        const mapOf = new Map(ms.map((m) => [m.instance_uuid, m]))
        if (cell === null) {
          const brs = await this.#db.selectFrom('build_requests').selectAll().where('instance_uuid', 'in', uuids).execute()
          for (const br of brs) out.push({ record: recordFromSpec(JSON.parse(br.spec) as BuildSpec), mapping: mapOf.get(br.instance_uuid)!, unknown: false })
          return
        }
        if (cell === CELL0_PATH) {
          for (const r of await this.#cell0.get(uuids)) out.push({ record: r, mapping: mapOf.get(r.uuid)!, unknown: false })
          return
        }
        try {
          // A cell known to be down is not asked: its servers come from the index, at once.
          if (this.#tree.isDown(cell)) throw new CellUnreachableError(`cell ${cell} is down`)
          const deadline = Math.min(ctx.deadline ?? Infinity, Date.now() + READ_BUDGET_MS)
          const recs = (await this.#tree.clientFor(cell).getInstances({ ...ctx, deadline }, { cellPath: cell, uuids })) as InstanceRecord[]
          for (const r of recs) out.push({ record: r, mapping: mapOf.get(r.uuid)!, unknown: false })
        } catch (err) {
          if (err instanceof AppError && err.code !== 'cell_unreachable' && err.code !== 'rpc_timeout' && err.code !== 'not_found') throw err
          const idx =
            indexRows?.filter((r) => mapOf.has(r.uuid)) ??
            (await this.#db.selectFrom('instance_index').selectAll().where('uuid', 'in', uuids).execute())
          for (const r of idx) out.push({ record: fromIndex(r), mapping: mapOf.get(r.uuid)!, unknown: true })
        }
      }),
    )
    return out
  }
}

/** What the index knows, for instances whose cell is down. */
function fromIndex(r: Selectable<InstanceIndexTable>): InstanceRecord {
  return {
    ...recordFromSpec({
      instanceUuid: r.uuid,
      name: r.name,
      hostname: r.name,
      projectId: r.project_id,
      userId: r.user_id,
      flavor: { id: r.flavor_id, name: '', memoryMb: 0, vcpus: 0, rootGb: 0, ephemeralGb: 0, swapMb: 0, extraSpecs: {} },
      image: { id: r.image_ref, name: '', properties: {} },
      availabilityZone: r.availability_zone,
      metadata: {},
      keyName: null,
      keyData: null,
      userData: null,
      description: null,
      reservationId: r.reservation_id,
      launchIndex: 0,
      schedulerHints: {},
      createdAt: r.created_at,
    }),
    cellPath: r.cell_path ?? '',
    host: r.host,
    vmState: r.vm_state,
    taskState: r.task_state,
    powerState: r.power_state,
    updatedAt: r.updated_at,
    version: r.version,
    deleted: r.vm_state === 'deleted',
  }
}
