import { afterEach, describe, expect, it } from 'vitest'
import { computeMigrations } from '../../../../api-cell/db/compute-migrations.js'
import type { ComputeTables } from '../../../../api-cell/db/compute-schema.js'
import type { UnshelvePlan } from '../../../../api-cell/scheduler/unshelve-mover.js'
import { UnshelveMover } from '../../../../api-cell/scheduler/unshelve-mover.js'
import type { BuildSpec } from '../../../../shared/cell-link/build-spec.js'
import type { BuildCall, BuildOutcome, CellLink, InstanceActionCall } from '../../../../shared/cell-link/types.js'
import { systemContext } from '../../../../shared/context.js'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'
import { NoValidHostError, NotFoundError } from '../../../../shared/errors.js'
import { createLogger } from '../../../../shared/logging.js'

const UUID = '6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f'
const SOURCE = 'api!r1!a'
const SHELVED_IMAGE = '0d9e4c3f-9a0b-4e2f-8c0a-1b2cb5f9c1de'

const spec: BuildSpec = {
  instanceUuid: UUID,
  name: 'vm',
  hostname: 'vm',
  projectId: 'p',
  userId: 'u',
  flavor: { id: '1', name: 'm1.tiny', memoryMb: 512, vcpus: 1, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} },
  image: { id: SHELVED_IMAGE, name: 'vm-shelved', properties: {} },
  unshelveImageRef: 'cirros',
  availabilityZone: null,
  metadata: {},
  keyName: null,
  keyData: null,
  userData: null,
  description: null,
  reservationId: 'r-1',
  launchIndex: 0,
  schedulerHints: {},
  retry: { attempt: 0, triedCells: [SOURCE], faults: [], versionBase: 7 },
  createdAt: 1,
}

/** The source cell's offloaded record. */
const sourceRecord = {
  uuid: UUID, name: 'vm', hostname: 'vm', projectId: 'p', userId: 'u', cellPath: SOURCE, host: null, node: null, availabilityZone: 'a', flavor: spec.flavor,
  imageRef: 'cirros', vmState: 'shelved_offloaded', taskState: null, powerState: 0, keyName: null, metadata: {}, userData: null, description: null,
  reservationId: 'r-1', launchIndex: 0, locked: false, lockedBy: null, lockedReason: null, configDrive: '', accessIpV4: null, accessIpV6: null, fault: null,
  version: 7, launchedAt: 1, terminatedAt: null, createdAt: 1, updatedAt: 2, deleted: false, shelvedImageId: SHELVED_IMAGE,
}

/** A region link whose build answers are scripted, one per call (the last repeats). */
class FakeLink implements CellLink {
  readonly builds: BuildCall[] = []
  readonly actions: InstanceActionCall[] = []
  constructor(readonly answers: Array<BuildOutcome | Error>) {}
  async build(_ctx: unknown, call: BuildCall): Promise<BuildOutcome> {
    this.builds.push(call)
    const a = this.answers.length > 1 ? this.answers.shift() : this.answers[0]
    if (a === undefined) throw new Error('no answer scripted')
    if (a instanceof Error) throw a
    return a
  }
  async instanceAction(_ctx: unknown, args: InstanceActionCall): Promise<unknown> {
    this.actions.push(args)
    if (this.gone.has(args.cellPath)) throw new NotFoundError(`Instance ${args.instanceUuid} could not be found.`)
    return null
  }
  readonly gone = new Set<string>()
  /** The records each cell behind this link holds (a live copy everywhere unless listed). */
  readonly records = new Map<string, unknown[]>()
  getInstances = async (_ctx: unknown, args: { cellPath: string }): Promise<unknown[]> => this.records.get(args.cellPath) ?? [{ uuid: UUID, deleted: false }]
  listHosts = async (): Promise<unknown[]> => []
  cellAdmin = async (): Promise<unknown> => null
  ackEvents = async (): Promise<void> => undefined
  listInstanceVersions = async () => []
}

describe('UnshelveMover (an unshelve into another cell as a saga kept in the API DB)', () => {
  let database: Database<ComputeTables> | undefined
  afterEach(async () => {
    await database?.close()
  })

  async function setup(links: Record<string, FakeLink>, opts: { discarded?: string[] } = {}) {
    database = await openDatabase<ComputeTables>('sqlite::memory:')
    await migrateToLatest(database.db, computeMigrations)
    const db = database.db
    await db.insertInto('instance_mappings').values({ instance_uuid: UUID, cell_path: SOURCE, project_id: 'p', user_id: 'u', region: null, queued_for_delete: 0, created_at: 1 }).execute()
    await db
      .insertInto('instance_index')
      .values({
        uuid: UUID, project_id: 'p', user_id: 'u', name: 'vm', vm_state: 'shelved_offloaded', task_state: null, power_state: 0, host: null,
        availability_zone: 'a', cell_path: SOURCE, region: 'r1', flavor_id: '1', image_ref: 'cirros', reservation_id: 'r-1', version: 7, created_at: 1, updated_at: 1,
      })
      .execute()
    const regionOf = (path: string): string => path.split('!').slice(0, 2).join('!')
    const mover = new UnshelveMover({
      db,
      clientFor: (path) => {
        const link = links[regionOf(path)]
        if (link === undefined) throw new NotFoundError(`cell ${path} is not known`)
        return link
      },
      log: createLogger('test'),
      ...(opts.discarded === undefined ? {} : { discardImage: async (id: string) => void opts.discarded?.push(id) }),
      placementDeadlineMs: 5_000,
    })
    return { db, mover }
  }

  const plan = (ranked: string[]): UnshelvePlan => ({ instanceUuid: UUID, sourceCell: SOURCE, ranked, spec })
  const state = async (db: Database<ComputeTables>['db']) => ({
    mapping: (await db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', UUID).executeTakeFirstOrThrow()).cell_path,
    index: await db.selectFrom('instance_index').select(['cell_path', 'host', 'region', 'task_state']).where('uuid', '=', UUID).executeTakeFirstOrThrow(),
    moves: await db.selectFrom('unshelve_moves').selectAll().execute(),
  })

  it('a region that refuses sends the build to the next; then the mapping and index move and the source drops its record', async () => {
    const r1 = new FakeLink([])
    const r2 = new FakeLink([new NoValidHostError('no host in r2')])
    const r3 = new FakeLink([{ accepted: true, cellPath: 'api!r3!x', host: 'h3' }])
    const { db, mover } = await setup({ 'api!r1': r1, 'api!r2': r2, 'api!r3': r3 })
    await mover.start(systemContext(), plan(['api!r2', 'api!r3']))
    await mover.drain()
    expect(r2.builds).toHaveLength(1)
    expect(r3.builds).toHaveLength(1)
    // The source is never a candidate; the spec goes down as planned, same uuid.
    expect(r3.builds[0]?.triedCells).toEqual([SOURCE, 'api!r2'])
    expect(r3.builds[0]?.spec.instanceUuid).toBe(UUID)
    const moved = await state(db)
    expect({ ...moved, moves: moved.moves.map((m) => m.step) }).toEqual({
      mapping: 'api!r3!x',
      index: { cell_path: 'api!r3!x', host: 'h3', region: 'r3', task_state: 'unshelving' },
      moves: ['dropping'],
    })
    // The source keeps its record until the new copy runs.
    expect(r1.actions).toEqual([])
    await db.updateTable('instance_index').set({ vm_state: 'active', task_state: null }).execute()
    await mover.run(systemContext(), UUID)
    expect((await state(db)).moves).toEqual([])
    expect(r1.actions).toEqual([{ cellPath: SOURCE, instanceUuid: UUID, action: 'delete', args: {} }])
    expect(r3.actions).toEqual([])
  })

  it('an unknown outcome asks the same region again (no second copy elsewhere)', async () => {
    const r1 = new FakeLink([])
    const r2 = new FakeLink([new Error('deadline exceeded'), new Error('connection reset'), { accepted: true, cellPath: 'api!r2!y', host: 'h2' }])
    const r3 = new FakeLink([{ accepted: true, cellPath: 'api!r3!x', host: 'h3' }])
    const { db, mover } = await setup({ 'api!r1': r1, 'api!r2': r2, 'api!r3': r3 })
    await mover.start(systemContext(), plan(['api!r2', 'api!r3']))
    await mover.drain()
    expect(r2.builds).toHaveLength(3)
    expect(r3.builds).toHaveLength(0)
    expect((await state(db)).mapping).toBe('api!r2!y')
  })

  it('refused everywhere: nothing moves; the instance’s own cell is asked to unshelve it (and records the fault if it cannot)', async () => {
    const r1 = new FakeLink([])
    const r2 = new FakeLink([{ accepted: false, reason: 'full' }])
    const { db, mover } = await setup({ 'api!r1': r1, 'api!r2': r2 })
    const fallback = { availabilityZone: 'r2-az', discardUrl: 'http://image/discard' }
    await mover.start(systemContext(), { ...plan(['api!r2']), fallback })
    await mover.drain()
    expect(await state(db)).toEqual({ mapping: SOURCE, index: { cell_path: SOURCE, host: null, region: 'r1', task_state: null }, moves: [] })
    expect(r1.actions).toEqual([{ cellPath: SOURCE, instanceUuid: UUID, action: 'unshelve', args: fallback }])
  })

  it('refused everywhere without a fallback: nothing is sent anywhere', async () => {
    const r1 = new FakeLink([])
    const r2 = new FakeLink([{ accepted: false, reason: 'full' }])
    const { db, mover } = await setup({ 'api!r1': r1, 'api!r2': r2 })
    await mover.start(systemContext(), plan(['api!r2']))
    await mover.drain()
    expect((await state(db)).mapping).toBe(SOURCE)
    expect(r1.actions).toEqual([])
  })

  it('a second unshelve while one moves the instance is 409', async () => {
    const r2 = new FakeLink([new Error('hung')])
    const { mover } = await setup({ 'api!r1': new FakeLink([]), 'api!r2': r2 })
    await mover.start(systemContext(), plan(['api!r2']))
    expect(await mover.inFlight(UUID)).toBe(true)
    await expect(mover.start(systemContext(), plan(['api!r2']))).rejects.toMatchObject({ status: 409 })
    await mover.drain()
  })

  it('resumes at the recorded step after a restart (placed, mapping not moved yet), idempotently', async () => {
    const r1 = new FakeLink([])
    r1.gone.add(SOURCE)
    const r3 = new FakeLink([])
    const { db, mover } = await setup({ 'api!r1': r1, 'api!r3': r3 })
    await db
      .insertInto('unshelve_moves')
      .values({ instance_uuid: UUID, source_cell: SOURCE, target_cell: 'api!r3!x', target_host: 'h3', step: 'moving', ranked: '["api!r3"]', spec: JSON.stringify(spec), created_at: 1 })
      .execute()
    await db.updateTable('instance_index').set({ vm_state: 'active', task_state: null }).execute()
    expect(await mover.resumePending(systemContext())).toBe(1)
    await mover.drain()
    // No build again; the source's record already gone counts as dropped.
    expect(r3.builds).toHaveLength(0)
    expect(await state(db)).toMatchObject({ mapping: 'api!r3!x', moves: [] })
    expect(r1.actions.map((a) => a.action)).toEqual(['delete'])
  })

  it('deleted while it moved: the new copy is deleted, the mapping stays', async () => {
    const r1 = new FakeLink([])
    const r3 = new FakeLink([])
    const { db, mover } = await setup({ 'api!r1': r1, 'api!r3': r3 })
    await db.updateTable('instance_mappings').set({ queued_for_delete: 1 }).execute()
    await db
      .insertInto('unshelve_moves')
      .values({ instance_uuid: UUID, source_cell: SOURCE, target_cell: 'api!r3!x', target_host: 'h3', step: 'moving', ranked: '["api!r3"]', spec: JSON.stringify(spec), created_at: 1 })
      .execute()
    await mover.resumePending(systemContext())
    await mover.drain()
    expect(r3.actions).toEqual([{ cellPath: 'api!r3!x', instanceUuid: UUID, action: 'delete', args: {} }])
    expect(r1.actions).toEqual([])
    expect(await state(db)).toMatchObject({ mapping: SOURCE, moves: [] })
  })

  it('a copy that failed to spawn after its placement is undone: mapping and index back at the source, whose record stays', async () => {
    const r1 = new FakeLink([])
    r1.records.set(SOURCE, [sourceRecord])
    const r3 = new FakeLink([{ accepted: true, cellPath: 'api!r3!x', host: 'h3' }])
    // The target handed the build back up (deleted there in ERROR) before the mapping moved.
    r3.records.set('api!r3!x', [{ uuid: UUID, deleted: true, vmState: 'error' }])
    const { db, mover } = await setup({ 'api!r1': r1, 'api!r3': r3 })
    await db
      .insertInto('unshelve_moves')
      .values({ instance_uuid: UUID, source_cell: SOURCE, target_cell: null, target_host: null, step: 'placing', ranked: '["api!r3"]', spec: JSON.stringify(spec), created_at: 1 })
      .execute()
    // The failed copy's first events had been applied (building there).
    await db.updateTable('instance_index').set({ vm_state: 'building', task_state: 'spawning', cell_path: 'api!r3!x', version: 9 }).execute()
    await mover.run(systemContext(), UUID)
    expect(await state(db)).toEqual({ mapping: SOURCE, index: { cell_path: SOURCE, host: null, region: 'r1', task_state: null }, moves: [] })
    const idx = await db.selectFrom('instance_index').select(['vm_state', 'version']).executeTakeFirstOrThrow()
    expect(idx).toEqual({ vm_state: 'shelved_offloaded', version: 7 })
    expect(r1.actions).toEqual([])
  })

  it('a copy that ended in ERROR in its cell is undone, then deleted there; the shelved image is kept', async () => {
    const discarded: string[] = []
    const r1 = new FakeLink([])
    r1.records.set(SOURCE, [sourceRecord])
    const r3 = new FakeLink([])
    const { db, mover } = await setup({ 'api!r1': r1, 'api!r3': r3 }, { discarded })
    await db.updateTable('instance_mappings').set({ cell_path: 'api!r3!x' }).execute()
    await db.updateTable('instance_index').set({ vm_state: 'error', task_state: null, cell_path: 'api!r3!x', version: 10 }).execute()
    await db
      .insertInto('unshelve_moves')
      .values({ instance_uuid: UUID, source_cell: SOURCE, target_cell: 'api!r3!x', target_host: 'h3', step: 'dropping', ranked: '["api!r3"]', spec: JSON.stringify(spec), created_at: 1 })
      .execute()
    await mover.run(systemContext(), UUID)
    expect(await state(db)).toEqual({ mapping: SOURCE, index: { cell_path: SOURCE, host: null, region: 'r1', task_state: null }, moves: [] })
    expect(r3.actions).toEqual([{ cellPath: 'api!r3!x', instanceUuid: UUID, action: 'delete', args: {} }])
    expect(r1.actions).toEqual([])
    expect(discarded).toEqual([])
  })

  it('deletes the shelved image only once the new guest has settled', async () => {
    const discarded: string[] = []
    const r1 = new FakeLink([])
    const r3 = new FakeLink([{ accepted: true, cellPath: 'api!r3!x', host: 'h3' }])
    const { db, mover } = await setup({ 'api!r1': r1, 'api!r3': r3 }, { discarded })
    // Run in the foreground only (start() would also run it in the background).
    await db
      .insertInto('unshelve_moves')
      .values({ instance_uuid: UUID, source_cell: SOURCE, target_cell: null, target_host: null, step: 'placing', ranked: '["api!r3"]', spec: JSON.stringify(spec), created_at: 1 })
      .execute()
    // Spawning still (the index shows the move's task state): the move waits, image kept.
    await mover.run(systemContext(), UUID).catch(() => undefined)
    expect(discarded).toEqual([])
    expect((await state(db)).moves.map((m) => m.step)).toEqual(['dropping'])
    // The mapping has moved: the instance takes actions in its new cell already.
    expect(await mover.inFlight(UUID)).toBe(false)
    await db.updateTable('instance_index').set({ vm_state: 'active', task_state: null }).execute()
    await mover.run(systemContext(), UUID)
    expect(discarded).toEqual([SHELVED_IMAGE])
    expect((await state(db)).moves).toEqual([])
    expect(r3.builds).toHaveLength(1)
  })
})
