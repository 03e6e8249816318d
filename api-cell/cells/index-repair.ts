import type { Kysely } from 'kysely'
import type { InstanceEvent, InstanceIndexPayload, InstanceVersion } from '../../shared/cell-link/types.js'
import { isDuplicateKey } from '../../shared/db/database.js'
import type { ComputeTables } from '../db/compute-schema.js'
import { CELL0_PATH } from './cell0.js'

// The API cell's instance index: how a row is written from an event, and how anti-entropy finds
// and repairs rows that differ from the leaves (shared/cell-link/anti-entropy.ts).

/**
 * Of one page of a region's versions, those whose index row is missing, older, or newer than the
 * leaf at the same cell (corrupt). Rows recorded in cell0 are final and never differ. A version
 * reported by a cell the instance mapping does not name is another cell's copy (the source or
 * target of a cross-cell move, or a stale copy): it never rewrites the index, whatever its number.
 */
export async function differingRows(db: Kysely<ComputeTables>, page: readonly InstanceVersion[]): Promise<InstanceVersion[]> {
  if (page.length === 0) return []
  const uuids = page.map((v) => v.uuid)
  const rows = await db.selectFrom('instance_index').select(['uuid', 'version', 'cell_path']).where('uuid', 'in', uuids).execute()
  const mappings = await db.selectFrom('instance_mappings').select(['instance_uuid', 'cell_path']).where('instance_uuid', 'in', uuids).execute()
  const mapped = new Map(mappings.map((m) => [m.instance_uuid, m.cell_path]))
  const known = new Map(rows.map((r) => [r.uuid, r]))
  return page.filter((v) => {
    const cell = mapped.get(v.uuid)
    if (cell !== undefined && cell !== null && cell !== v.cellPath) return false
    const r = known.get(v.uuid)
    if (r === undefined) return true
    if (r.cell_path === CELL0_PATH) return false
    return r.version < v.version || (r.version > v.version && r.cell_path === v.cellPath)
  })
}

/**
 * Writes the leaves' current records over index rows that are missing, older, or (at the same
 * cell) claim a version the leaf never reached: a corrupt row would otherwise hide every later
 * event. Rows in cell0 stay final, as in CellTree.applyEvents.
 */
export async function repairIndexRows(db: Kysely<ComputeTables>, child: string, events: readonly InstanceEvent[]): Promise<number> {
  const region = child.split('!')[1] ?? null
  let changed = 0
  for (const ev of events) {
    const row = indexRow(ev.payload, ev.cellPath, region, ev.version)
    const res = await db
      .updateTable('instance_index')
      .set(row)
      .where('uuid', '=', ev.instanceUuid)
      .where((eb) => eb.or([eb('version', '<', ev.version), eb.and([eb('cell_path', '=', ev.cellPath), eb('version', '>', ev.version)])]))
      .where((eb) => eb.or([eb('cell_path', 'is', null), eb('cell_path', '!=', CELL0_PATH)]))
      .executeTakeFirst()
    if (Number(res.numUpdatedRows) > 0) {
      changed += 1
      continue
    }
    const exists = await db.selectFrom('instance_index').select('uuid').where('uuid', '=', ev.instanceUuid).executeTakeFirst()
    if (exists !== undefined) continue
    try {
      await db.insertInto('instance_index').values({ ...row, uuid: ev.instanceUuid, reservation_id: '', created_at: ev.payload.createdAt }).execute()
      changed += 1
    } catch (err) {
      if (!isDuplicateKey(err)) throw err
    }
  }
  return changed
}

/** The index columns an instance event (or record) sets. */
export function indexRow(p: InstanceIndexPayload, cellPath: string, region: string | null, version: number) {
  return {
    project_id: p.projectId,
    user_id: p.userId,
    name: p.name,
    vm_state: p.deleted ? 'deleted' : p.vmState,
    task_state: p.taskState,
    power_state: p.powerState,
    host: p.host,
    availability_zone: p.availabilityZone,
    cell_path: cellPath,
    region,
    flavor_id: p.flavorId,
    image_ref: p.imageRef,
    version,
    updated_at: p.updatedAt,
    ...(p.tags === undefined ? {} : { tags: JSON.stringify(p.tags) }),
  }
}
