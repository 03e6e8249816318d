import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { BuildAggregate } from '../../../shared/cell-link/build-spec.js'
import { isDuplicateKey } from '../../../shared/db/database.js'
import { ConflictError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import type { ComputeTables } from '../../db/compute-schema.js'
import { LegacyIds } from '../hosts/legacy-ids.js'

/** A host aggregate created through the API, with its hosts and metadata. */
export interface StoredAggregate {
  readonly uuid: string
  readonly id: number
  readonly name: string
  readonly hosts: readonly string[]
  readonly metadata: Readonly<Record<string, string>>
  readonly createdAt: number
  readonly updatedAt: number | null
}

/**
 * Host aggregates at the API cell (Nova keeps them in its API database too). Every change is one
 * transaction; name uniqueness and host membership are enforced by the tables' keys, so two
 * concurrent requests cannot both succeed where Nova would refuse one.
 */
export class AggregateStore {
  readonly #db: Kysely<ComputeTables>

  constructor(db: Kysely<ComputeTables>) {
    this.#db = db
  }

  async list(): Promise<StoredAggregate[]> {
    const rows = await this.#db.selectFrom('aggregates').selectAll().orderBy('legacy_id').execute()
    if (rows.length === 0) return []
    const hosts = await this.#db.selectFrom('aggregate_hosts').selectAll().orderBy('host').execute()
    const meta = await this.#db.selectFrom('aggregate_metadata').selectAll().orderBy('key').execute()
    return rows.map((r) => ({
      uuid: r.uuid,
      id: r.legacy_id,
      name: r.name,
      hosts: hosts.filter((h) => h.aggregate_uuid === r.uuid).map((h) => h.host),
      metadata: Object.fromEntries(meta.filter((m) => m.aggregate_uuid === r.uuid).map((m) => [m.key, m.value])),
      createdAt: Number(r.created_at),
      updatedAt: r.updated_at === null ? null : Number(r.updated_at),
    }))
  }

  /** The aggregate of integer id `id`, or undefined (a zone's id is not one of these). */
  async get(id: number): Promise<StoredAggregate | undefined> {
    return (await this.list()).find((a) => a.id === id)
  }

  async #require(id: number): Promise<StoredAggregate> {
    const a = await this.get(id)
    if (a === undefined) throw new NotFoundError(`Aggregate ${id} could not be found.`)
    return a
  }

  /** Creates an aggregate; a taken name is Nova's 409. */
  async create(name: string, availabilityZone: string | null): Promise<StoredAggregate> {
    const uuid = randomUUID()
    if ((await this.#db.selectFrom('aggregates').select('uuid').where('name', '=', name).executeTakeFirst()) !== undefined) {
      throw new ConflictError(`Aggregate ${name} already exists.`)
    }
    const legacy = (await new LegacyIds(this.#db).assign('aggregate', [{ ref: `aggregate:${uuid}`, cellPath: null }])).get(`aggregate:${uuid}`)
    if (legacy === undefined) throw new Error('no legacy id assigned')
    const now = Date.now()
    try {
      await this.#db.transaction().execute(async (tx) => {
        await tx.insertInto('aggregates').values({ uuid, legacy_id: legacy.id, name, created_at: now, updated_at: null }).execute()
        if (availabilityZone !== null) await tx.insertInto('aggregate_metadata').values({ aggregate_uuid: uuid, key: 'availability_zone', value: availabilityZone }).execute()
      })
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConflictError(`Aggregate ${name} already exists.`)
      throw err
    }
    return this.#require(legacy.id)
  }

  /** Renames and/or re-zones (`null` zone removes it). */
  async update(id: number, u: { name?: string; availabilityZone?: string | null }): Promise<StoredAggregate> {
    const a = await this.#require(id)
    try {
      await this.#db.transaction().execute(async (tx) => {
        await tx.updateTable('aggregates').set({ updated_at: Date.now(), ...(u.name === undefined ? {} : { name: u.name }) }).where('uuid', '=', a.uuid).execute()
        if (u.availabilityZone !== undefined) await setMeta(tx, a.uuid, { availability_zone: u.availabilityZone })
      })
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConflictError(`Aggregate ${u.name ?? a.name} already exists.`)
      throw err
    }
    return this.#require(id)
  }

  /** Deletes an aggregate without hosts (Nova's 400 otherwise). */
  async delete(id: number): Promise<void> {
    const a = await this.#require(id)
    if (a.hosts.length > 0) throw new InvalidError(`Cannot remove aggregate ${id}. Reason: Host aggregate is not empty.`)
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom('aggregate_metadata').where('aggregate_uuid', '=', a.uuid).execute()
      await tx.deleteFrom('aggregates').where('uuid', '=', a.uuid).execute()
    })
  }

  async addHost(id: number, host: string): Promise<StoredAggregate> {
    const a = await this.#require(id)
    try {
      await this.#db.insertInto('aggregate_hosts').values({ aggregate_uuid: a.uuid, host }).execute()
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConflictError(`Aggregate ${id} already has host ${host}.`)
      throw err
    }
    await this.#touch(a.uuid)
    return this.#require(id)
  }

  async removeHost(id: number, host: string): Promise<StoredAggregate> {
    const a = await this.#require(id)
    const del = await this.#db.deleteFrom('aggregate_hosts').where('aggregate_uuid', '=', a.uuid).where('host', '=', host).executeTakeFirst()
    if (Number(del.numDeletedRows) === 0) throw new NotFoundError(`Cannot remove host ${host} in aggregate ${id}`)
    await this.#touch(a.uuid)
    return this.#require(id)
  }

  /** Sets metadata items; a `null` value deletes the key. */
  async setMetadata(id: number, items: Readonly<Record<string, string | null>>): Promise<StoredAggregate> {
    const a = await this.#require(id)
    await this.#db.transaction().execute((tx) => setMeta(tx, a.uuid, items))
    await this.#touch(a.uuid)
    return this.#require(id)
  }

  async #touch(uuid: string): Promise<void> {
    await this.#db.updateTable('aggregates').set({ updated_at: Date.now() }).where('uuid', '=', uuid).execute()
  }
}

async function setMeta(tx: Kysely<ComputeTables>, uuid: string, items: Readonly<Record<string, string | null>>): Promise<void> {
  for (const [key, value] of Object.entries(items)) {
    await tx.deleteFrom('aggregate_metadata').where('aggregate_uuid', '=', uuid).where('key', '=', key).execute()
    if (value !== null) await tx.insertInto('aggregate_metadata').values({ aggregate_uuid: uuid, key, value }).execute()
  }
}

/**
 * The aggregates a build carries to the leaf schedulers (`BuildSpec.aggregates`): those with hosts
 * and metadata beyond `availability_zone` (the zone is a cell of the tree here), hosts and metadata only.
 */
export async function aggregatesForBuild(db: Kysely<ComputeTables>): Promise<BuildAggregate[]> {
  return (await new AggregateStore(db).list())
    .filter((a) => a.hosts.length > 0 && Object.keys(a.metadata).some((k) => k !== 'availability_zone'))
    .map((a) => ({ hosts: [...a.hosts], metadata: { ...a.metadata } }))
}
