import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ClaimArgs, GroupClaim } from '../../child-cell/db/claims.js'
import { adoptMoveClaim, claimResources, groupHostCounts, releaseResources } from '../../child-cell/db/claims.js'
import { cellMigrations } from '../../child-cell/db/migrations.js'
import type { CellSchema } from '../../child-cell/db/schema.js'
import type { Database, Dialect } from '../../shared/db/database.js'
import { dropMysqlSchema, migrateToLatest, openDatabase } from '../../shared/db/database.js'
import { insertNode } from '../helpers/cell-db.js'

/**
 * The atomic claim, on both dialects, with real concurrency on MariaDB (a pool of connections):
 * capacity x ratio is never exceeded, and hard server-group policies hold however many claims
 * race for the same hosts.
 */
let sqliteDir = ''
const mysqlUrls: string[] = []
const targets: ReadonlyArray<{ readonly dialect: Dialect; fresh(): string }> = [
  { dialect: 'sqlite', fresh: () => `sqlite:${join(sqliteDir, `${randomUUID()}.db`)}` },
  {
    dialect: 'mysql',
    fresh: () => {
      const url = `mysql://root@127.0.0.1:3306/test_claims_${randomBytes(6).toString('hex')}?pool=16`
      mysqlUrls.push(url)
      return url
    },
  },
]

beforeAll(async () => {
  sqliteDir = await mkdtemp(join(tmpdir(), 'claims-contract-'))
})
afterAll(async () => {
  await Promise.all(mysqlUrls.map((url) => dropMysqlSchema(url.replace(/\?.*$/, ''))))
  await rm(sqliteDir, { recursive: true, force: true })
})

const small = { memoryMb: 512, vcpus: 1, diskGb: 1 }

describe.each(targets)('claims on $dialect', (target) => {
  let database: Database<CellSchema>
  beforeEach(async () => {
    database = await openDatabase<CellSchema>(target.fresh())
    await migrateToLatest(database.db, cellMigrations)
  })
  afterEach(async () => {
    await database.close()
  })

  const claim = (nodeId: number, extra: Partial<ClaimArgs> = {}) =>
    claimResources(database.db, { instanceUuid: randomUUID(), nodeId, ...small, ...extra })
  const node = (id: number) => database.db.selectFrom('compute_nodes').selectAll().where('id', '=', id).executeTakeFirstOrThrow()

  it.each([
    { case: '8 vCPUs fit', want: 8, claimed: true },
    { case: '9 vCPUs do not', want: 9, claimed: false },
  ])('4 cores with cpu ratio 2: $case', async ({ want, claimed }) => {
    const id = await insertNode(database.db, { host: 'h1', vcpus: 4, cpu_allocation_ratio: 2, memory_mb: 65536 })
    expect((await claim(id, { vcpus: want })).claimed).toBe(claimed)
    expect((await node(id)).vcpus_used).toBe(claimed ? want : 0)
  })

  it('4 cores with cpu ratio 2 take at most 8 one-vCPU instances, whatever the concurrency', async () => {
    const id = await insertNode(database.db, { host: 'h1', vcpus: 4, cpu_allocation_ratio: 2, memory_mb: 65536 })
    const results = await Promise.all(Array.from({ length: 20 }, () => claim(id)))
    expect(results.filter((r) => r.claimed)).toHaveLength(8)
    const n = await node(id)
    expect(n.vcpus_used).toBe(8)
    expect(n.running_vms).toBe(8)
    const allocs = await database.db.selectFrom('allocations').selectAll().execute()
    expect(allocs).toHaveLength(8)
  })

  it('counts RAM with its ratio and reserve, and disk, together', async () => {
    const id = await insertNode(database.db, { host: 'h1', memory_mb: 4096, ram_allocation_ratio: 1.5, reserved_host_memory_mb: 1024, local_gb: 10, vcpus: 64 })
    // 4096 x 1.5 - 1024 = 5120 MB: five 1 GB instances; disk 10 GB would take ten.
    const results = await Promise.all(Array.from({ length: 12 }, () => claim(id, { memoryMb: 1024 })))
    expect(results.filter((r) => r.claimed)).toHaveLength(5)
    const byDisk = await insertNode(database.db, { host: 'h2', local_gb: 10, vcpus: 64, memory_mb: 65536 })
    const disk = await Promise.all(Array.from({ length: 6 }, () => claim(byDisk, { diskGb: 3 })))
    expect(disk.filter((r) => r.claimed)).toHaveLength(3)
  })

  it('is idempotent per instance: a repeated claim answers with the node it holds', async () => {
    const a = await insertNode(database.db, { host: 'a' })
    const b = await insertNode(database.db, { host: 'b' })
    const instanceUuid = randomUUID()
    expect(await claimResources(database.db, { instanceUuid, nodeId: a, ...small })).toEqual({ claimed: true, nodeId: a })
    expect(await claimResources(database.db, { instanceUuid, nodeId: b, ...small })).toEqual({ claimed: true, nodeId: a })
    expect((await node(a)).memory_mb_used).toBe(512)
    expect((await node(b)).memory_mb_used).toBe(0)
  })

  it('anti-affinity: concurrent members never share a host, even when all of them aim at the same hosts', async () => {
    const hosts = ['a', 'b', 'c']
    const ids = await Promise.all(hosts.map((host) => insertNode(database.db, { host })))
    const group = (host: string): GroupClaim => ({ uuid: 'g1', policy: 'anti-affinity', maxServerPerHost: 1, host })
    // 12 members, each trying its host in a different order, all at once.
    const tries = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const instanceUuid = randomUUID()
        for (let k = 0; k < hosts.length; k++) {
          const j = (i + k) % hosts.length
          const r = await claimResources(database.db, { instanceUuid, nodeId: ids[j] as number, ...small, group: group(hosts[j] as string) })
          if (r.claimed) return hosts[j]
        }
        return undefined
      }),
    )
    const placed = tries.filter((h): h is string => h !== undefined)
    expect(placed.sort()).toEqual(['a', 'b', 'c'])
    expect([...(await groupHostCounts(database.db, 'g1'))].sort()).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 1],
    ])
    // Resources of the losers were rolled back with their group slot.
    for (const id of ids) expect((await node(id)).running_vms).toBe(1)
  })

  it('anti-affinity with max_server_per_host 2 allows two members per host', async () => {
    const id = await insertNode(database.db, { host: 'a' })
    const group: GroupClaim = { uuid: 'g2', policy: 'anti-affinity', maxServerPerHost: 2, host: 'a' }
    const results = await Promise.all(Array.from({ length: 6 }, () => claim(id, { group })))
    expect(results.filter((r) => r.claimed)).toHaveLength(2)
    expect((await groupHostCounts(database.db, 'g2')).get('a')).toBe(2)
  })

  it('affinity: concurrent first members on different hosts end on one host only', async () => {
    const hosts = ['a', 'b', 'c', 'd']
    const ids = await Promise.all(hosts.map((host) => insertNode(database.db, { host })))
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        claim(ids[i % 4] as number, { group: { uuid: 'g3', policy: 'affinity', maxServerPerHost: 1, host: hosts[i % 4] as string } }),
      ),
    )
    const winners = new Set(results.flatMap((r, i) => (r.claimed ? [hosts[i % 4]] : [])))
    expect(winners.size).toBe(1)
    const counts = await groupHostCounts(database.db, 'g3')
    expect([...counts.keys()]).toEqual([...winners])
  })

  it('release gives the resources and the group slot back; the last member frees an affinity group', async () => {
    const a = await insertNode(database.db, { host: 'a' })
    const b = await insertNode(database.db, { host: 'b' })
    const onA: GroupClaim = { uuid: 'g4', policy: 'affinity', maxServerPerHost: 1, host: 'a' }
    const first = randomUUID()
    expect((await claimResources(database.db, { instanceUuid: first, nodeId: a, ...small, group: onA })).claimed).toBe(true)
    expect((await claim(b, { group: { ...onA, host: 'b' } })).claimed).toBe(false)
    expect(await database.db.transaction().execute((tx) => releaseResources(tx, first))).toBe(true)
    expect((await node(a)).memory_mb_used).toBe(0)
    expect((await groupHostCounts(database.db, 'g4')).size).toBe(0)
    // The group is empty again: a new first member may go anywhere.
    expect((await claim(b, { group: { ...onA, host: 'b' } })).claimed).toBe(true)
    // Releasing twice changes nothing.
    expect(await database.db.transaction().execute((tx) => releaseResources(tx, first))).toBe(false)
  })

  it('a move holds claims on both hosts; adopting the target claim gives the source back, once', async () => {
    const a = await insertNode(database.db, { host: 'a' })
    const b = await insertNode(database.db, { host: 'b' })
    const instance = randomUUID()
    const migration = randomUUID()
    expect((await claim(a, { instanceUuid: instance })).claimed).toBe(true)
    expect((await claimResources(database.db, { instanceUuid: migration, nodeId: b, memoryMb: 2048, vcpus: 2, diskGb: 20 })).claimed).toBe(true)
    expect((await node(a)).memory_mb_used).toBe(512)
    expect((await node(b)).memory_mb_used).toBe(2048)
    await database.db.transaction().execute((tx) => adoptMoveClaim(tx, migration, instance))
    await database.db.transaction().execute((tx) => adoptMoveClaim(tx, migration, instance))
    expect(await node(a)).toMatchObject({ memory_mb_used: 0, vcpus_used: 0, local_gb_used: 0, running_vms: 0 })
    expect(await node(b)).toMatchObject({ memory_mb_used: 2048, vcpus_used: 2, local_gb_used: 20, running_vms: 1 })
    const held = await database.db.selectFrom('allocations').selectAll().execute()
    expect(held.map((h) => [h.instance_uuid, h.node_id])).toEqual([[instance, b]])
    // The instance's claim is now the target's: releasing it empties b.
    expect(await database.db.transaction().execute((tx) => releaseResources(tx, instance))).toBe(true)
    expect((await node(b)).memory_mb_used).toBe(0)
  })
})
