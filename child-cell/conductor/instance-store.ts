import type { Kysely, Selectable, Transaction, Updateable } from 'kysely'
import type { InstanceRecord } from '../../shared/cell-link/build-spec.js'
import type { InstanceIndexPayload } from '../../shared/cell-link/types.js'
import type { NetworkInfo } from '../../shared/network/network-info.js'
import { NotFoundError } from '../../shared/errors.js'
import { appendOutbox } from '../db/outbox-writer.js'
import type { CellSchema, InstancesTable } from '../db/schema.js'

/**
 * Instance persistence for the conductor. Every change goes through {@link InstanceStore.change},
 * which bumps the instance's version and appends the upward event to the outbox in the same
 * transaction: the top can never miss a change, and can apply events in any order.
 */
export class InstanceStore {
  readonly #db: Kysely<CellSchema>
  readonly #cellPath: string

  constructor(args: { readonly db: Kysely<CellSchema>; readonly cellPath: string }) {
    this.#db = args.db
    this.#cellPath = args.cellPath
  }

  /** The row of `uuid` (deleted ones too when `withDeleted`), or a 404. */
  async get(uuid: string, opts: { withDeleted?: boolean; tx?: Transaction<CellSchema> } = {}): Promise<Selectable<InstancesTable>> {
    let q = (opts.tx ?? this.#db).selectFrom('instances').selectAll().where('uuid', '=', uuid)
    if (opts.withDeleted !== true) q = q.where('deleted', '=', 0)
    const row = await q.executeTakeFirst()
    if (row === undefined) throw new NotFoundError(`Instance ${uuid} could not be found.`)
    return row
  }

  /**
   * Inserts a new instance (version `versionBase` + 1; the base is 0 except for a build handed
   * over from another cell, whose events must outnumber the old cell's) and its first outbox event.
   */
  async insert(
    tx: Transaction<CellSchema>,
    row: Omit<Selectable<InstancesTable>, 'version'>,
    versionBase = 0,
  ): Promise<Selectable<InstancesTable>> {
    const full = { ...row, version: versionBase + 1 }
    await tx.insertInto('instances').values(full).execute()
    await this.#appendOutbox(tx, full)
    return full
  }

  /**
   * Applies `updates` to `uuid` when `guard` (if given) still holds, bumping the version and
   * writing the outbox event in the caller's transaction. Returns the new row, or undefined when
   * the guard failed (someone else changed the instance first). `extra` adds fields to the upward
   * event (a reschedule request).
   */
  async change(
    tx: Transaction<CellSchema>,
    uuid: string,
    updates: Updateable<InstancesTable>,
    guard?: { readonly taskState?: string | null; readonly version?: number },
    extra?: Partial<InstanceIndexPayload>,
  ): Promise<Selectable<InstancesTable> | undefined> {
    const current = await tx.selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirst()
    if (current === undefined) throw new NotFoundError(`Instance ${uuid} could not be found.`)
    if (guard?.taskState !== undefined && current.task_state !== guard.taskState) return undefined
    if (guard?.version !== undefined && current.version !== guard.version) return undefined
    const next = { ...current, ...updates, version: current.version + 1, updated_at: Date.now() } as Selectable<InstancesTable>
    const res = await tx
      .updateTable('instances')
      .set({ ...updates, version: next.version, updated_at: next.updated_at })
      .where('uuid', '=', uuid)
      .where('version', '=', current.version)
      .executeTakeFirst()
    if (Number(res.numUpdatedRows) !== 1) return undefined
    await this.#appendOutbox(tx, next, extra)
    return next
  }

  async #appendOutbox(tx: Transaction<CellSchema>, row: Selectable<InstancesTable>, extra?: Partial<InstanceIndexPayload>): Promise<void> {
    await appendOutbox(tx, {
      instanceUuid: row.uuid,
      version: row.version,
      cellPath: this.#cellPath,
      payload: extra === undefined ? indexPayload(row) : { ...indexPayload(row), ...extra },
    })
  }

  /** The domain record of a row (with its interfaces, which every spawn of its guest renders). */
  toRecord(row: Selectable<InstancesTable>): InstanceRecord {
    return {
      uuid: row.uuid,
      name: row.name,
      hostname: row.hostname,
      projectId: row.project_id,
      userId: row.user_id,
      cellPath: this.#cellPath,
      host: row.host,
      node: row.node,
      availabilityZone: row.availability_zone,
      flavor: JSON.parse(row.flavor),
      imageRef: row.image_ref,
      vmState: row.vm_state,
      taskState: row.task_state,
      powerState: row.power_state,
      keyName: row.key_name,
      metadata: JSON.parse(row.metadata),
      userData: row.user_data,
      description: row.description,
      reservationId: row.reservation_id,
      launchIndex: row.launch_index,
      locked: row.locked === 1,
      lockedBy: row.locked_by,
      lockedReason: row.locked_reason,
      configDrive: row.config_drive,
      accessIpV4: row.access_ip_v4,
      accessIpV6: row.access_ip_v6,
      fault: row.fault === null ? null : JSON.parse(row.fault),
      version: row.version,
      launchedAt: row.launched_at,
      terminatedAt: row.terminated_at,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      deleted: row.deleted === 1,
      tags: JSON.parse(row.tags) as string[],
      ...(row.shelved_image_id === null ? {} : { shelvedImageId: row.shelved_image_id }),
      ...(row.network_info === null ? {} : { networkInfo: JSON.parse(row.network_info) as NetworkInfo }),
    }
  }
}

/** The fields of a row the API cell's index keeps. */
export function indexPayload(row: Selectable<InstancesTable>): InstanceIndexPayload {
  return {
    uuid: row.uuid,
    projectId: row.project_id,
    userId: row.user_id,
    name: row.name,
    vmState: row.vm_state,
    taskState: row.task_state,
    powerState: row.power_state,
    host: row.host,
    availabilityZone: row.availability_zone,
    flavorId: row.flavor_id,
    imageRef: row.image_ref,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deleted: row.deleted === 1,
    tags: JSON.parse(row.tags) as string[],
  }
}
