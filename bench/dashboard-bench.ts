import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { listInstances, parseInstanceQuery } from '../api-cell/admin/instance-list.js'
import { API_MIGRATIONS } from '../api-cell/runtime.js'
import type { ApiSchema } from '../api-cell/db/schema.js'
import type { Database } from '../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../shared/db/database.js'

const CELLS = ['api!region-one!dc1', 'api!region-one!dc2', 'api!region-two'] as const

/**
 * The dashboard's server list over a large federation: `GET /cell-admin/v1/instances` pages (the
 * first, one 50,000 rows deep by marker, a name search that matches, one that matches nothing, a
 * cell filter) over `servers` rows of the API cell's instance index in SQLite. Each figure is the
 * median of `repeat` runs, in ms: what one page costs the API whatever the federation holds.
 */
export async function benchDashboard(args: { readonly servers?: number; readonly repeat?: number } = {}): Promise<Record<string, number>> {
  const servers = args.servers ?? 100_000
  const repeat = args.repeat ?? 20
  const scratch = mkdtempSync(join(tmpdir(), 'bench-dashboard-'))
  const database: Database<ApiSchema> = await openDatabase<ApiSchema>(`sqlite:${join(scratch, 'api.db')}`)
  try {
    await migrateToLatest(database.db, API_MIGRATIONS)
    const t0 = Date.now() - servers * 1000
    const uuids: string[] = []
    for (let i = 0; i < servers; i += 500) {
      const rows = []
      for (let j = i; j < Math.min(servers, i + 500); j += 1) {
        const uuid = randomUUID()
        uuids.push(uuid)
        rows.push({
          uuid,
          project_id: `p${j % 100}`,
          user_id: 'u',
          name: `vm-${j}`,
          vm_state: j % 50 === 0 ? 'error' : 'active',
          task_state: null,
          power_state: 1,
          host: `h${j % 300}`,
          availability_zone: 'nova',
          cell_path: CELLS[j % CELLS.length] ?? null,
          region: null,
          flavor_id: '1',
          image_ref: 'i',
          reservation_id: 'r',
          version: 1,
          created_at: t0 + j * 1000,
          updated_at: t0 + j * 1000,
        })
      }
      await database.db.insertInto('instance_index').values(rows).execute()
    }
    const tree = { isDown: () => false }
    const deep = uuids[servers - 50_000] ?? uuids[0] ?? ''
    const cases: Record<string, Record<string, string>> = {
      firstPage: { limit: '50' },
      deepPage: { limit: '50', marker: deep },
      nameHit: { limit: '50', name: 'vm-4242' },
      nameMiss: { limit: '50', name: 'no-such-name' },
      cellFilter: { limit: '50', cell: 'api!region-one' },
      statusError: { limit: '50', status: 'ERROR' },
    }
    const out: Record<string, number> = { servers }
    for (const [name, q] of Object.entries(cases)) {
      const times: number[] = []
      for (let r = 0; r < repeat; r += 1) {
        const start = performance.now()
        await listInstances(database.db, tree, parseInstanceQuery(q))
        times.push(performance.now() - start)
      }
      times.sort((a, b) => a - b)
      out[`${name}.p50Ms`] = Math.round((times[Math.floor(times.length / 2)] ?? 0) * 100) / 100
    }
    return out
  } finally {
    await database.close()
    rmSync(scratch, { recursive: true, force: true })
  }
}
