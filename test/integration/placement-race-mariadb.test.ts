import { randomBytes } from 'node:crypto'
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Cell0Store } from '../../api-cell/cells/cell0.js'
import type { CellTree } from '../../api-cell/cells/cell-tree.js'
import { takeBackBuild } from '../../api-cell/cells/reschedule-intake.js'
import type { ComputeTables } from '../../api-cell/db/compute-schema.js'
import type { ApiSchema } from '../../api-cell/db/schema.js'
import { API_MIGRATIONS } from '../../api-cell/runtime.js'
import { BuildDispatcher } from '../../api-cell/scheduler/build-dispatcher.js'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import type { BuildOutcome, CellCapacity, InstanceIndexPayload } from '../../shared/cell-link/types.js'
import { systemContext } from '../../shared/context.js'
import type { Database } from '../../shared/db/database.js'
import { dropMysqlSchema, migrateToLatest, openDatabase } from '../../shared/db/database.js'
import { createLogger } from '../../shared/logging.js'
import { buildSpecFixture } from '../helpers/build-spec.js'

/**
 * Runs `hook` once, right after the first SELECT from `build_requests` that follows `arm()`, before
 * its rows reach the caller: another connection's transaction then commits between the caller's
 * read and its writes (MariaDB's repeatable read keeps serving the caller its older snapshot).
 */
class AfterRead implements KyselyPlugin {
  #armed = false
  readonly #selects = new WeakSet<object>()
  constructor(readonly hook: () => Promise<void>) {}
  arm(): void {
    this.#armed = true
  }
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const n = args.node
    if (n.kind === 'SelectQueryNode' && JSON.stringify(n.from ?? {}).includes('"build_requests"')) this.#selects.add(args.queryId)
    return n
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.#armed && this.#selects.has(args.queryId)) {
      this.#armed = false
      await this.hook()
    }
    return args.result
  }
}

/**
 * Issue #9 (the separate-sites rehearsal lost a build): a region answered "placed" for attempt 0
 * while the event saying its leaf had handed the build back was being applied. The take-back
 * committed between the dispatcher's read of the build request and its writes; on MariaDB the
 * dispatcher still saw attempt 0 in its snapshot, mapped the instance to the leaf that had given it
 * up and deleted the build request of attempt 1: the server answered 404 for good. The placement is
 * now a compare-and-swap on the build request it read.
 */
describe('a placement racing a take-back of the same build (MariaDB)', () => {
  const schema = `placerace_${randomBytes(4).toString('hex')}`
  const url = `mysql://root@127.0.0.1:3306/${schema}`
  let a: Database<ApiSchema>
  let b: Database<ApiSchema>

  beforeAll(async () => {
    a = await openDatabase<ApiSchema>(url)
    await migrateToLatest(a.db, API_MIGRATIONS)
    b = await openDatabase<ApiSchema>(url)
  })
  afterAll(async () => {
    await a.close()
    await b.close()
    await dropMysqlSchema(url)
  })

  it('the newer attempt wins: the instance stays unmapped with attempt 1 pending, whoever commits in between', async () => {
    const spec: BuildSpec = buildSpecFixture({})
    const uuid = spec.instanceUuid
    const now = Date.now()
    await a.db.insertInto('instance_mappings').values({ instance_uuid: uuid, cell_path: null, project_id: spec.projectId, user_id: spec.userId, region: null, queued_for_delete: 0, created_at: now }).execute()
    await a.db.insertInto('build_requests').values({ instance_uuid: uuid, project_id: spec.projectId, spec: JSON.stringify(spec), region: null, created_at: now }).execute()
    const leaf = 'api!r1!dc2'
    // The event of the leaf that gave up the build, applied by another connection (CellTree.applyEvents).
    const takeBack = async (): Promise<void> => {
      const out = await (b.db as unknown as Database<ComputeTables>['db']).transaction().execute((tx) =>
        takeBackBuild(tx, {
          instanceUuid: uuid,
          version: 5,
          cellPath: leaf,
          payload: { uuid, deleted: true, vmState: 'error', reschedule: { spec, triedCells: [leaf], faults: [`${leaf}: image download failed`] } } as unknown as InstanceIndexPayload,
        }),
      )
      expect(out).toBe('retaken')
    }
    const plugin = new AfterRead(takeBack)
    const link = {
      build: async (): Promise<BuildOutcome> => {
        // The region's answer arrives; the take-back will commit right after the dispatcher reads.
        plugin.arm()
        return { accepted: true, cellPath: leaf, host: '' }
      },
    }
    const dispatcher = new BuildDispatcher({
      db: a.db.withPlugin(plugin),
      tree: { regionAggregates: (): CellCapacity[] => [], clientFor: () => link } as unknown as CellTree,
      cell0: {} as Cell0Store,
      log: createLogger('test'),
      settings: { maxCellAttempts: 1, rank: () => ({ ranked: [{ path: 'api!r1' } as CellCapacity], rejected: {} }) },
    })
    const out = await dispatcher.place(systemContext(), uuid)
    expect(out.kind).toBe('gone')
    const m = await a.db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', uuid).executeTakeFirstOrThrow()
    expect(m.cell_path).toBeNull()
    const br = await a.db.selectFrom('build_requests').select('spec').where('instance_uuid', '=', uuid).executeTakeFirst()
    expect(br, 'the build request of attempt 1 survives').toBeDefined()
    expect((JSON.parse(br?.spec ?? '{}') as BuildSpec).retry?.attempt).toBe(1)
    expect((JSON.parse(br?.spec ?? '{}') as BuildSpec).retry?.triedCells).toEqual([leaf])
  })
})
