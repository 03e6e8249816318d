import type { Kysely, Migration } from 'kysely'
import type { InstanceRecord } from '../../shared/cell-link/build-spec.js'

/**
 * cell0: where instances that no cell could take are kept, in ERROR, so that the API can still
 * show and delete them (Nova's cell0). It has no hosts, no conductor and no agent: the API cell
 * owns its database directly.
 */
export interface Cell0Schema {
  cell0_instances: {
    uuid: string
    project_id: string
    record: string
    deleted: number
    created_at: number
  }
}

export const CELL0_PATH = 'cell0'

export const cell0Migrations: Readonly<Record<string, Migration>> = {
  cell0_0001_initial: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('cell0_instances')
        .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('record', 'text', (c) => c.notNull())
        .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
    },
  },
}

/** Reads and writes cell0's instances. */
export class Cell0Store {
  readonly #db: Kysely<Cell0Schema>

  constructor(db: Kysely<Cell0Schema>) {
    this.#db = db
  }

  /** Records a failed build. Idempotent per uuid. */
  async put(rec: InstanceRecord): Promise<void> {
    const exists = await this.#db.selectFrom('cell0_instances').select('uuid').where('uuid', '=', rec.uuid).executeTakeFirst()
    if (exists !== undefined) return
    await this.#db
      .insertInto('cell0_instances')
      .values({ uuid: rec.uuid, project_id: rec.projectId, record: JSON.stringify(rec), deleted: 0, created_at: rec.createdAt })
      .execute()
  }

  async get(uuids: readonly string[]): Promise<InstanceRecord[]> {
    if (uuids.length === 0) return []
    const rows = await this.#db.selectFrom('cell0_instances').selectAll().where('uuid', 'in', uuids).where('deleted', '=', 0).execute()
    return rows.map((r) => JSON.parse(r.record) as InstanceRecord)
  }

  /** Marks it deleted; `false` when it was not there (or already deleted). */
  async delete(uuid: string): Promise<boolean> {
    const res = await this.#db.updateTable('cell0_instances').set({ deleted: 1 }).where('uuid', '=', uuid).where('deleted', '=', 0).executeTakeFirst()
    return Number(res.numUpdatedRows) === 1
  }
}
