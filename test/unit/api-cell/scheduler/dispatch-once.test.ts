import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Cell0Store } from '../../../../api-cell/cells/cell0.js'
import type { CellTree } from '../../../../api-cell/cells/cell-tree.js'
import { API_MIGRATIONS } from '../../../../api-cell/runtime.js'
import type { ApiSchema } from '../../../../api-cell/db/schema.js'
import { BuildDispatcher } from '../../../../api-cell/scheduler/build-dispatcher.js'
import type { BuildCall, BuildOutcome, CellCapacity } from '../../../../shared/cell-link/types.js'
import { systemContext } from '../../../../shared/context.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'
import { createLogger } from '../../../../shared/logging.js'

/**
 * The same build enqueued twice while its first dispatch is under way (an API worker forwarding
 * it while the dispatching worker re-drives pending builds after a restart): the second dispatch
 * waits for the first and then finds the build placed, so the cell is asked once.
 */
describe('BuildDispatcher: one dispatch of a build at a time', () => {
  const dir = mkdtempSync(join(tmpdir(), 'throughput-dispatch-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('asks the cell once for a build enqueued twice, and places it', async () => {
    const { db, close } = await openDatabase<ApiSchema>(`sqlite:${join(dir, 'api.db')}`)
    try {
      await migrateToLatest(db, API_MIGRATIONS)
      const uuid = '11111111-2222-4333-8444-555555555555'
      const spec = {
        instanceUuid: uuid,
        flavor: { id: '1', memoryMb: 512, vcpus: 1, rootGb: 1, ephemeralGb: 0, swapMb: 0 },
        image: { id: 'img', properties: {} },
        availabilityZone: null,
        schedulerHints: {},
      }
      const now = Date.now()
      await db.insertInto('build_requests').values({ instance_uuid: uuid, project_id: 'p', spec: JSON.stringify(spec), region: null, created_at: now }).execute()
      await db.insertInto('instance_mappings').values({ instance_uuid: uuid, cell_path: null, project_id: 'p', user_id: 'u', region: null, queued_for_delete: 0, created_at: now }).execute()
      let calls = 0
      let inFlight = 0
      let most = 0
      let release: () => void = () => undefined
      const gate = new Promise<void>((r) => (release = r))
      const link = {
        build: async (_ctx: unknown, _call: BuildCall): Promise<BuildOutcome> => {
          calls += 1
          inFlight += 1
          most = Math.max(most, inFlight)
          await gate
          inFlight -= 1
          return { accepted: true, cellPath: 'api!r1', host: 'h1' }
        },
      }
      const tree = { regionAggregates: (): CellCapacity[] => [], clientFor: () => link } as unknown as CellTree
      const dispatcher = new BuildDispatcher({
        db,
        tree,
        cell0: {} as Cell0Store,
        log: createLogger('test'),
        settings: { maxCellAttempts: 1, rank: () => ({ ranked: [{ path: 'api!r1' } as CellCapacity], rejected: {} }) },
      })
      dispatcher.enqueue(systemContext(), uuid)
      dispatcher.enqueue(systemContext(), uuid)
      await new Promise((r) => setTimeout(r, 50))
      release()
      // The second dispatch starts when the first ends, and finds the build placed.
      for (let i = 0; i < 100 && (await db.selectFrom('build_requests').select('instance_uuid').execute()).length > 0; i += 1) await new Promise((r) => setTimeout(r, 10))
      await new Promise((r) => setTimeout(r, 100))
      await dispatcher.drain()
      expect(most).toBe(1)
      expect(calls).toBe(1)
      const m = await db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', uuid).executeTakeFirstOrThrow()
      expect(m.cell_path).toBe('api!r1')
      expect(await db.selectFrom('build_requests').select('instance_uuid').execute()).toEqual([])
    } finally {
      await close()
    }
  })
})
