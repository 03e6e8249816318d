import { randomBytes, randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { differingRows, repairIndexRows } from '../api-cell/cells/index-repair.js'
import { computeMigrations } from '../api-cell/db/compute-migrations.js'
import type { ComputeTables } from '../api-cell/db/compute-schema.js'
import type { ConductorDeps } from '../child-cell/conductor/deps.js'
import { InstanceStore } from '../child-cell/conductor/instance-store.js'
import { instanceVersions } from '../child-cell/conductor/operations/instance-versions.js'
import { cellMigrations } from '../child-cell/db/migrations.js'
import type { CellSchema } from '../child-cell/db/schema.js'
import { reconcileChild } from '../shared/cell-link/anti-entropy.js'
import { dropMysqlSchema, migrateToLatest, openDatabase } from '../shared/db/database.js'

const LEAF = 'api!region-bench!leaf'
const BATCH = 1000

/**
 * Anti-entropy at scale, over MariaDB: a leaf cell schema with `instances` instances and an API
 * schema whose index holds the same rows, `drift` of them dropped, made stale or corrupted. Measures
 * one pass (paging every version, finding the drift, fetching the records, repairing), then a
 * second pass over the converged index (the steady-state cost of the periodic pass). The pass runs
 * the real conductor and index code against the databases; only the gRPC hop is left out.
 */
export async function benchConverge(args: { instances?: number; drift?: number } = {}): Promise<Record<string, number | string>> {
  const n = args.instances ?? 100_000
  const drift = args.drift ?? 1000
  const tag = randomBytes(3).toString('hex')
  const leafUrl = `mysql://root@127.0.0.1:3306/bench_leaf_${tag}`
  const apiUrl = `mysql://root@127.0.0.1:3306/bench_api_${tag}`
  const leaf = await openDatabase<CellSchema>(leafUrl)
  const api = await openDatabase<ComputeTables>(apiUrl)
  try {
    await migrateToLatest(leaf.db, cellMigrations)
    await migrateToLatest(api.db, computeMigrations)
    const uuids = Array.from({ length: n }, () => randomUUID())
    const t0 = performance.now()
    await fill(leaf.db, api.db, uuids)
    const fillMs = performance.now() - t0
    // Drift: a third of the rows dropped, a third stale (a lost event), a third corrupt.
    const victims = uuids.slice(0, drift)
    const third = Math.floor(drift / 3)
    await api.db.deleteFrom('instance_index').where('uuid', 'in', victims.slice(0, third)).execute()
    await api.db.updateTable('instance_index').set({ version: 0, task_state: 'deleting' }).where('uuid', 'in', victims.slice(third, 2 * third)).execute()
    await api.db.updateTable('instance_index').set({ version: 999_999, vm_state: 'error' }).where('uuid', 'in', victims.slice(2 * third)).execute()
    const deps = { db: leaf.db, cellPath: LEAF } as unknown as ConductorDeps
    const store = new InstanceStore({ db: leaf.db, cellPath: LEAF })
    const link = {
      listInstanceVersions: (_ctx: unknown, page: { afterUuid: string; limit: number }) => instanceVersions(deps, page),
      getInstances: async (_ctx: unknown, a: { uuids: readonly string[] }) =>
        (await leaf.db.selectFrom('instances').selectAll().where('uuid', 'in', [...a.uuids]).execute()).map((r) => store.toRecord(r)),
    }
    const target = { differing: (_c: string, page: Parameters<typeof differingRows>[1]) => differingRows(api.db, page), repair: (c: string, evs: Parameters<typeof repairIndexRows>[2]) => repairIndexRows(api.db, c, evs) }
    const t1 = performance.now()
    const first = await reconcileChild({ childPath: 'api!region-bench', link, target })
    const firstMs = performance.now() - t1
    const t2 = performance.now()
    const second = await reconcileChild({ childPath: 'api!region-bench', link, target })
    const secondMs = performance.now() - t2
    return {
      instances: n,
      drift,
      'fill.seconds': Math.round(fillMs / 100) / 10,
      'repairPass.ms': Math.round(firstMs),
      'repairPass.checked': first.checked,
      'repairPass.differing': first.differing,
      'repairPass.repaired': first.repaired,
      'steadyPass.ms': Math.round(secondMs),
      'steadyPass.differing': second.differing,
      'steadyPass.instancesPerSecond': Math.round(second.checked / (secondMs / 1000)),
      database: 'MariaDB (leaf schema + API schema)',
    }
  } finally {
    await leaf.close()
    await api.close()
    await dropMysqlSchema(leafUrl)
    await dropMysqlSchema(apiUrl)
  }
}

/** `uuids` as ACTIVE instances of the leaf (versions 1-5) and as matching API index rows. */
async function fill(leaf: Kysely<CellSchema>, api: Kysely<ComputeTables>, uuids: readonly string[]): Promise<void> {
  const now = Date.now()
  for (let i = 0; i < uuids.length; i += BATCH) {
    const chunk = uuids.slice(i, i + BATCH).map((uuid, j) => ({ uuid, version: ((i + j) % 5) + 1 }))
    await leaf
      .insertInto('instances')
      .values(
        chunk.map(({ uuid, version }) => ({
          uuid, name: `b-${uuid.slice(0, 8)}`, hostname: 'b', project_id: 'p', user_id: 'u', host: 'h1', node: 'h1', availability_zone: 'nova',
          flavor: '{"id":"1"}', flavor_id: '1', image_ref: 'img', vm_state: 'active', task_state: null, power_state: 1, key_name: null, key_data: null,
          metadata: '{}', user_data: null, description: null, reservation_id: 'r', launch_index: 0, locked: 0, locked_by: null, locked_reason: null,
          config_drive: '', access_ip_v4: null, access_ip_v6: null, fault: null, version, launched_at: now, terminated_at: null, created_at: now,
          updated_at: now, deleted: 0, deleted_at: null, tags: '[]',
        })),
      )
      .execute()
    await api
      .insertInto('instance_index')
      .values(
        chunk.map(({ uuid, version }) => ({
          uuid, project_id: 'p', user_id: 'u', name: `b-${uuid.slice(0, 8)}`, vm_state: 'active', task_state: null, power_state: 1, host: 'h1',
          availability_zone: 'nova', cell_path: LEAF, region: 'region-bench', flavor_id: '1', image_ref: 'img', reservation_id: 'r', version,
          created_at: now, updated_at: now,
        })),
      )
      .execute()
  }
}
