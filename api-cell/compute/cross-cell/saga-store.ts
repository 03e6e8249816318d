import type { Kysely, Selectable, Transaction } from 'kysely'
import type { InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { indexPayloadOf } from '../../../shared/cell-link/anti-entropy.js'
import { indexRow } from '../../cells/index-repair.js'
import type { ComputeTables, CrossCellMigrationsTable } from '../../db/compute-schema.js'

/** One cross-cell move as the API cell keeps it. */
export type SagaRow = Selectable<CrossCellMigrationsTable>

/** Statuses after which a saga has nothing left to do. */
export const FINAL_STATUSES: readonly string[] = ['confirmed', 'reverted', 'error']

/** Statuses in which a cell may hold a second copy of the instance (anti-entropy must leave it alone). */
export const IN_FLIGHT_STATUSES: readonly string[] = ['pre-migrating', 'preparing', 'migrating', 'post-migrating', 'finished', 'confirming', 'reverting', 'compensating', 'abandoning']

type Db = Kysely<ComputeTables> | Transaction<ComputeTables>

/** The unfinished cross-cell move of `uuid`, if any. */
export async function inFlightSaga(db: Db, uuid: string): Promise<SagaRow | undefined> {
  return db.selectFrom('cross_cell_migrations').selectAll().where('instance_uuid', '=', uuid).where('status', 'in', [...IN_FLIGHT_STATUSES]).executeTakeFirst()
}

/**
 * The cells that may hold a copy of each instance because of an unfinished cross-cell move (its
 * source and its target): the index's anti-entropy and orphan removal must not touch those copies.
 */
export async function sagaCells(db: Db, uuids: readonly string[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>()
  if (uuids.length === 0) return out
  const rows = await db
    .selectFrom('cross_cell_migrations')
    .select(['instance_uuid', 'source_cell', 'target_cell'])
    .where('instance_uuid', 'in', [...uuids])
    .where('status', 'in', [...IN_FLIGHT_STATUSES])
    .execute()
  for (const r of rows) out.set(r.instance_uuid, new Set([r.source_cell, ...(r.target_cell === null ? [] : [r.target_cell])]))
  return out
}

/** Moves the saga from `from` to `to` (with other columns); false when another driver moved it first. */
export async function setStatus(db: Db, uuid: string, from: string, to: string, set: Partial<Omit<SagaRow, 'uuid' | 'status'>> = {}): Promise<boolean> {
  const res = await db
    .updateTable('cross_cell_migrations')
    .set({ ...set, status: to, updated_at: Date.now(), ...(FINAL_STATUSES.includes(to) ? { active_instance: null } : {}) })
    .where('uuid', '=', uuid)
    .where('status', '=', from)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/** The region of a cell path (`api!region-two!dc1` -> `region-two`). */
export const regionOf = (cellPath: string): string | null => cellPath.split('!')[1] ?? null

/**
 * Points the instance mapping and the index row at `cellPath`, written from that cell's record
 * (its version included, whatever the old cell's was), in the caller's transaction: the mapping
 * and the index move together, and the new cell's later events apply over the row.
 */
export async function switchMapping(tx: Transaction<ComputeTables>, record: InstanceRecord, cellPath: string): Promise<void> {
  const region = regionOf(cellPath)
  await tx.updateTable('instance_mappings').set({ cell_path: cellPath, region }).where('instance_uuid', '=', record.uuid).execute()
  await tx
    .updateTable('instance_index')
    .set(indexRow(indexPayloadOf(record), cellPath, region, record.version))
    .where('uuid', '=', record.uuid)
    .execute()
}

/** Points the mapping and the index row's cell at `cellPath` when that cell's record is not at hand. */
export async function switchCellOnly(tx: Transaction<ComputeTables>, uuid: string, cellPath: string): Promise<void> {
  const region = regionOf(cellPath)
  await tx.updateTable('instance_mappings').set({ cell_path: cellPath, region }).where('instance_uuid', '=', uuid).execute()
  await tx.updateTable('instance_index').set({ cell_path: cellPath, region }).where('uuid', '=', uuid).execute()
}

/** A migration record of the compute API's views (os-migrations, servers/{id}/migrations). */
export interface CrossCellMigrationView {
  readonly uuid: string
  readonly instanceUuid: string
  readonly migrationType: string
  readonly status: string
  readonly sourceCompute: string
  readonly sourceNode: string
  readonly destCompute: string | null
  readonly destNode: string | null
  readonly oldFlavorId: string
  readonly newFlavorId: string
  readonly projectId: string
  readonly userId: string
  readonly createdAt: number
  readonly updatedAt: number
  readonly crossCellMove: true
}

/** The status Nova would show for a saga step. */
function novaStatus(s: string): string {
  if (s === 'preparing') return 'pre-migrating'
  if (s === 'compensating' || s === 'abandoning') return 'error'
  return s
}

/** The view of one saga row. */
export function migrationView(r: SagaRow): CrossCellMigrationView {
  return {
    uuid: r.uuid,
    instanceUuid: r.instance_uuid,
    migrationType: r.migration_type,
    status: novaStatus(r.status),
    sourceCompute: r.source_host,
    sourceNode: r.source_node,
    destCompute: r.dest_host,
    destNode: r.dest_node,
    oldFlavorId: (JSON.parse(r.old_flavor) as { id: string }).id,
    newFlavorId: (JSON.parse(r.new_flavor) as { id: string }).id,
    projectId: r.project_id,
    userId: r.user_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    crossCellMove: true,
  }
}
