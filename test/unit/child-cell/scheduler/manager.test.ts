import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { cellMigrations } from '../../../../child-cell/db/migrations.js'
import type { CellSchema } from '../../../../child-cell/db/schema.js'
import type { RequestSpec } from '../../../../child-cell/scheduler/host-state.js'
import { SchedulerManager } from '../../../../child-cell/scheduler/manager.js'
import { hostPluginsOf } from '../../../../child-cell/scheduler/plugins.js'
import { InProcessBus } from '../../../../shared/bus/in-process-bus.js'
import { DEFAULT_SCHEDULER_CONFIG } from '../../../../shared/config/scheduler-config.js'
import { systemContext } from '../../../../shared/context.js'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'
import { NoValidHostError } from '../../../../shared/errors.js'
import { createLogger } from '../../../../shared/logging.js'
import { insertNode } from '../../../helpers/cell-db.js'
import { flavor, spec } from './fixtures.js'

/** The leaf scheduler over a real (SQLite) cell DB: decide, claim, and group counters. */
describe('SchedulerManager', () => {
  let dir: string
  let database: Database<CellSchema>
  let scheduler: SchedulerManager
  const bus = new InProcessBus()

  const make = (cacheMs: number): SchedulerManager =>
    new SchedulerManager({
      db: database.db,
      bus,
      log: createLogger('test'),
      settings: { ...hostPluginsOf(DEFAULT_SCHEDULER_CONFIG), hostSubsetSize: 1, serviceDownMs: 60_000, maxClaimRounds: 3, hostStateCacheMs: cacheMs },
    })

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sched-mgr-'))
    database = await openDatabase<CellSchema>(`sqlite:${join(dir, 'cell.db')}`)
    await migrateToLatest(database.db, cellMigrations)
    const now = Date.now()
    for (const host of ['a', 'b', 'c']) {
      await insertNode(database.db, { host, memory_mb: host === 'a' ? 16384 : 8192 })
      await database.db
        .insertInto('services')
        .values({ uuid: randomUUID(), host, binary: 'nova-compute', topic: `compute.${host}`, disabled: 0, disabled_reason: null, forced_down: 0, last_seen_up: now, created_at: now, updated_at: now })
        .execute()
    }
    scheduler = make(0)
  })
  afterEach(async () => {
    await database.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const request = (overrides: Partial<RequestSpec> = {}): RequestSpec => spec({ instanceUuid: randomUUID(), ...overrides })

  it('claims on the best host (most free RAM) and counts the claim', async () => {
    const sel = await scheduler.selectDestination(systemContext(), request())
    expect(sel.host).toBe('a')
    const node = await database.db.selectFrom('compute_nodes').selectAll().where('host', '=', 'a').executeTakeFirstOrThrow()
    expect(node.memory_mb_used).toBe(512)
  })

  it('is idempotent: a retried request gets the host it already holds', async () => {
    const r = request()
    const first = await scheduler.selectDestination(systemContext(), r)
    const again = await scheduler.selectDestination(systemContext(), { ...r, ignoreHosts: [first.host] })
    expect(again.host).toBe(first.host)
    expect(await database.db.selectFrom('allocations').selectAll().execute()).toHaveLength(1)
  })

  it('skips the hosts already tried (RetryFilter) and says why when none is left', async () => {
    expect((await scheduler.selectDestination(systemContext(), request({ ignoreHosts: ['a'] }))).host).not.toBe('a')
    const none = scheduler.selectDestination(systemContext(), request({ ignoreHosts: ['a', 'b', 'c'] }))
    await expect(none).rejects.toThrow(NoValidHostError)
    await expect(none).rejects.toThrow(/RetryFilter: \(start: 3, end: 0\)/)
  })

  it('anti-affinity: members the API does not know yet still count, from the cell DB', async () => {
    const group = { uuid: 'g', policy: 'anti-affinity' as const, hosts: [] as string[] }
    const hosts = []
    for (let i = 0; i < 3; i++) hosts.push((await scheduler.selectDestination(systemContext(), request({ group }))).host)
    expect(new Set(hosts).size).toBe(3)
    await expect(scheduler.selectDestination(systemContext(), request({ group }))).rejects.toThrow(NoValidHostError)
  })

  it('affinity: once the cell holds a member, later ones follow it', async () => {
    const group = { uuid: 'g', policy: 'affinity' as const, hosts: [] as string[] }
    const first = await scheduler.selectDestination(systemContext(), request({ group, ignoreHosts: ['a'] }))
    const next = await scheduler.selectDestination(systemContext(), request({ group }))
    expect(next.host).toBe(first.host)
  })

  it('concurrent schedulers with cached host states never over-commit a host', async () => {
    // Two schedulers (cache on), 40 concurrent requests for 4 GB: a takes 4, b and c 2 each.
    const other = make(60_000)
    const cached = make(60_000)
    const big = flavor({ memoryMb: 4096, vcpus: 1 })
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? cached : other).selectDestination(systemContext(), request({ flavor: big }))),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(8)
    const nodes = await database.db.selectFrom('compute_nodes').selectAll().execute()
    for (const n of nodes) expect(n.memory_mb_used, n.host).toBeLessThanOrEqual(n.memory_mb)
  })
})
