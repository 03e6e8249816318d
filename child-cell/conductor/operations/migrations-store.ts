import type { Selectable, Transaction } from 'kysely'
import type { FlavorSnapshot } from '../../../shared/cell-link/build-spec.js'
import { InvalidError } from '../../../shared/errors.js'
import type { CellSchema, MigrationsTable } from '../../db/schema.js'
import type { ConductorDeps } from '../deps.js'

/** A row of the cell's `migrations` table. */
export type MigrationRow = Selectable<MigrationsTable>

/** The kinds of move (Nova's `migration_type`). */
export const MIGRATION_TYPES = ['resize', 'migration', 'live-migration', 'evacuation'] as const
/** One of {@link MIGRATION_TYPES}. */
export type MigrationType = (typeof MIGRATION_TYPES)[number]

/**
 * Statuses of a move that is not over: its source host must keep the guest (a compute restarting
 * there must not destroy it as an orphan) and its target claim is still held.
 */
export const IN_PROGRESS_STATUSES = ['pre-migrating', 'migrating', 'post-migrating', 'finished', 'confirming', 'reverting', 'accepted', 'running'] as const

/** The migration `uuid`, or undefined. */
export async function findMigration(d: Pick<ConductorDeps, 'db'>, uuid: string): Promise<MigrationRow | undefined> {
  return d.db.selectFrom('migrations').selectAll().where('uuid', '=', uuid).executeTakeFirst()
}

/** The newest migration of an instance in one of `statuses`, or undefined. */
export async function latestMigration(d: Pick<ConductorDeps, 'db'>, instanceUuid: string, statuses: readonly string[]): Promise<MigrationRow | undefined> {
  return d.db
    .selectFrom('migrations')
    .selectAll()
    .where('instance_uuid', '=', instanceUuid)
    .where('status', 'in', [...statuses])
    .orderBy('id', 'desc')
    .executeTakeFirst()
}

/** Sets a migration's fields in the caller's transaction; with `fromStatus`, only while it still has that status. */
export async function setMigration(
  tx: Transaction<CellSchema>,
  uuid: string,
  set: Partial<Pick<MigrationRow, 'status' | 'dest_host' | 'dest_node'>>,
  fromStatus?: string,
): Promise<boolean> {
  let q = tx.updateTable('migrations').set({ ...set, updated_at: Date.now() }).where('uuid', '=', uuid)
  if (fromStatus !== undefined) q = q.where('status', '=', fromStatus)
  return Number((await q.executeTakeFirst()).numUpdatedRows) === 1
}

/** The flavor of a request, checked field by field (it arrives as JSON from the tree). */
export function flavorArg(raw: unknown): FlavorSnapshot {
  const f = raw as Partial<Record<keyof FlavorSnapshot, unknown>> | null
  const whole = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0
  if (f === null || typeof f !== 'object' || typeof f.id !== 'string' || typeof f.name !== 'string' || !whole(f.memoryMb) || !whole(f.vcpus) || !whole(f.rootGb)) {
    throw new InvalidError('resize needs the new flavor')
  }
  return raw as FlavorSnapshot
}

/** The API view of one migration (the fields `os-migrations` and `servers/{id}/migrations` show). */
export interface MigrationRecord {
  readonly id: number
  readonly uuid: string
  readonly instanceUuid: string
  readonly migrationType: string
  readonly status: string
  readonly sourceHost: string
  readonly sourceNode: string
  readonly destHost: string | null
  readonly destNode: string | null
  readonly oldFlavorId: string
  readonly newFlavorId: string
  readonly projectId: string
  readonly userId: string
  readonly createdAt: number
  readonly updatedAt: number
}

/** The record of a row. */
export function migrationRecord(m: MigrationRow): MigrationRecord {
  return {
    id: m.id,
    uuid: m.uuid,
    instanceUuid: m.instance_uuid,
    migrationType: m.migration_type,
    status: m.status,
    sourceHost: m.source_host,
    sourceNode: m.source_node,
    destHost: m.dest_host,
    destNode: m.dest_node,
    oldFlavorId: (JSON.parse(m.old_flavor) as FlavorSnapshot).id,
    newFlavorId: (JSON.parse(m.new_flavor) as FlavorSnapshot).id,
    projectId: m.project_id,
    userId: m.user_id,
    createdAt: m.created_at,
    updatedAt: m.updated_at,
  }
}
