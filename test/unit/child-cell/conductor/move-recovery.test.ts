import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ConductorDeps } from '../../../../child-cell/conductor/deps.js'
import { InstanceStore } from '../../../../child-cell/conductor/instance-store.js'
import { instanceAction } from '../../../../child-cell/conductor/operations/actions.js'
import { recoverStuckMoves } from '../../../../child-cell/conductor/operations/move-recovery.js'
import { startMove } from '../../../../child-cell/conductor/operations/move.js'
import { claimResources } from '../../../../child-cell/db/claims.js'
import { cellMigrations } from '../../../../child-cell/db/migrations.js'
import type { CellSchema } from '../../../../child-cell/db/schema.js'
import type { RequestContext } from '../../../../shared/context.js'
import { systemContext } from '../../../../shared/context.js'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'
import { createLogger } from '../../../../shared/logging.js'
import { insertNode } from '../../../helpers/cell-db.js'

const TINY = { id: '1', name: 'm1.tiny', memoryMb: 512, vcpus: 1, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} }
const SMALL = { ...TINY, id: '2', name: 'm1.small', memoryMb: 2048 }

/**
 * A conductor that stops in the middle of a resize leaves a migration row behind; whichever
 * conductor of the cell sweeps next puts the instance back on its source: the target's guest and
 * claim removed, the source's guest running again. The hosts are a stub that records the steps
 * asked of them (the spawn on the target never answers: the conductor "stopped" while waiting).
 */
describe('conductor: a move its conductor left half done is recovered; a repeated delete is accepted', () => {
  let dir: string
  let database: Database<CellSchema>
  let d: ConductorDeps
  let steps: string[]
  let nodes: { a: number; b: number }
  const ctx: RequestContext = systemContext()

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'move-recovery-'))
    database = await openDatabase<CellSchema>(`sqlite:${join(dir, 'cell.db')}`)
    await migrateToLatest(database.db, cellMigrations)
    nodes = { a: await insertNode(database.db, { host: 'a' }), b: await insertNode(database.db, { host: 'b' }) }
    steps = []
    const db = database.db
    d = {
      db,
      store: new InstanceStore({ db, cellPath: 'api!test' }),
      cellPath: 'api!test',
      serviceDownMs: 60_000,
      log: createLogger('test'),
      maxBuildAttempts: 3,
      agent: { outboxChanged: () => Promise.resolve(), capacityChanged: () => Promise.resolve() },
      scheduler: {
        selectDestination: async (_ctx: RequestContext, spec: { instanceUuid: string; flavor: typeof TINY }) => {
          await claimResources(db, { instanceUuid: spec.instanceUuid, nodeId: nodes.b, memoryMb: spec.flavor.memoryMb, vcpus: spec.flavor.vcpus, diskGb: spec.flavor.rootGb })
          return { host: 'b', nodeId: nodes.b, nodeName: 'b', availabilityZone: 'nova' }
        },
      },
      compute: {
        moveStep: (_ctx: RequestContext, host: string, method: string) => {
          steps.push(`${method}@${host}`)
          if (method === 'move_finish_target') return new Promise(() => undefined)
          return Promise.resolve(method === 'move_cleanup' ? null : { powerState: method === 'move_prepare_source' ? 4 : 1 })
        },
        terminateInstance: (_ctx: RequestContext, host: string) => {
          steps.push(`terminate@${host}`)
          return Promise.resolve()
        },
      },
    } as unknown as ConductorDeps
  })

  afterEach(async () => {
    await database.close()
    await rm(dir, { recursive: true, force: true })
  })

  const memoryUsed = async (id: number): Promise<number> =>
    (await database.db.selectFrom('compute_nodes').select('memory_mb_used').where('id', '=', id).executeTakeFirstOrThrow()).memory_mb_used

  /** An ACTIVE m1.tiny instance on host a, its claim held there. */
  const instanceOnA = async (): Promise<string> => {
      const uuid = randomUUID()
      const now = Date.now()
      await database.db.transaction().execute((tx) =>
        d.store.insert(tx, {
          uuid, name: 'vm', hostname: 'vm', project_id: 'p', user_id: 'u', host: 'a', node: 'a', availability_zone: 'nova',
          flavor: JSON.stringify(TINY), flavor_id: '1', image_ref: 'img', vm_state: 'active', task_state: null, power_state: 1,
          key_name: null, key_data: null, metadata: '{}', tags: '[]', shelved_image_id: null, network_info: null, user_data: null, description: null, reservation_id: 'r-1', launch_index: 0,
          locked: 0, locked_by: null, locked_reason: null, config_drive: '', access_ip_v4: null, access_ip_v6: null, fault: null,
          launched_at: now, terminated_at: null, created_at: now, updated_at: now, deleted: 0, deleted_at: null,
        }),
      )
      await claimResources(database.db, { instanceUuid: uuid, nodeId: nodes.a, memoryMb: 512, vcpus: 1, diskGb: 1 })
    return uuid
  }

  it('puts an interrupted resize back on its source, target claim released', async () => {
    const uuid = await instanceOnA()
    const row = await d.store.get(uuid)
    await startMove(d, ctx, row, 'resize', { flavor: SMALL, allowSameHost: false }, false)
    // The source stopped its guest; the target's spawn never answers (the conductor "stops" here).
    await expect.poll(() => steps).toEqual(['move_prepare_source@a', 'move_finish_target@b'])
    expect(await memoryUsed(nodes.b)).toBe(2048)
    // Too recent to be stuck: nothing happens.
    expect(await recoverStuckMoves(d, ctx, 60_000)).toBe(0)

    expect(await recoverStuckMoves(d, ctx, 0)).toBe(1)
    expect(steps.slice(2)).toEqual(['move_cleanup@b', 'move_finish_revert@a'])
    const back = await d.store.get(uuid)
    expect(back).toMatchObject({ host: 'a', vm_state: 'active', task_state: null, flavor_id: '1', power_state: 1 })
    expect(await memoryUsed(nodes.a)).toBe(512)
    expect(await memoryUsed(nodes.b)).toBe(0)
    const m = await database.db.selectFrom('migrations').selectAll().where('instance_uuid', '=', uuid).executeTakeFirstOrThrow()
    expect(m.status).toBe('error')
    // Recovered once: the next sweep finds nothing.
    expect(await recoverStuckMoves(d, ctx, 0)).toBe(0)
  })

  it('starts nothing new when the same move is asked again (same migration uuid: a retried call)', async () => {
    const uuid = await instanceOnA()
    const migrationUuid = randomUUID()
    const first = await startMove(d, ctx, await d.store.get(uuid), 'resize', { migrationUuid, flavor: SMALL }, false)
    const again = await startMove(d, ctx, await d.store.get(uuid), 'resize', { migrationUuid, flavor: SMALL }, false)
    expect(again.uuid).toBe(first.uuid)
    const rows = await database.db.selectFrom('migrations').select('uuid').where('instance_uuid', '=', uuid).execute()
    expect(rows.map((r) => r.uuid)).toEqual([migrationUuid])
    expect(await memoryUsed(nodes.b)).toBe(2048)
    // A different request while this one runs is refused: one move at a time.
    await expect(startMove(d, ctx, await d.store.get(uuid), 'resize', { flavor: SMALL }, false)).rejects.toThrow(/Cannot 'resize'/)
  })

  it('accepts a delete asked again while one is under way (as Nova does) and changes nothing', async () => {
    const uuid = await instanceOnA()
    await instanceAction(d, ctx, { uuid, action: 'delete', args: {}, isAdmin: false })
    const deleting = await d.store.get(uuid)
    expect(deleting.task_state).toBe('deleting')
    expect(steps).toEqual(['terminate@a'])
    // The second delete: no 409, no second terminate, the row as the first one left it.
    await expect(instanceAction(d, ctx, { uuid, action: 'delete', args: {}, isAdmin: false })).resolves.toMatchObject({ uuid })
    expect(steps).toEqual(['terminate@a'])
    expect((await d.store.get(uuid)).version).toBe(deleting.version)
  })
})
