/**
 * Placements through the whole tree: the API cell ranks regions, a region ranks its leaf cells, the
 * leaf ranks its hosts (every default cell and host filter and weigher), and, for claimed
 * placements, the leaf claims on the winner with the conditional write of `child-cell/db/claims.ts`
 * in a real cell schema (SQLite file, or MariaDB in a scratch schema created and dropped here).
 *
 * Claimed placements decide on in-memory host states, as a scheduler with a host-state cache does
 * (`host_state_cache_ms` > 0): each claim is counted in them as it is sent, and a lost claim
 * re-reads that host. The `freshReads` variant re-reads the chosen leaf's compute nodes for every
 * decision instead, what a scheduler with `host_state_cache_ms: 0` (the default) does. Requests
 * carry no server group here (claims with a group also take the group's slot).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Kysely } from 'kysely'
import { claimResources } from '../child-cell/db/claims.js'
import { cellMigrations } from '../child-cell/db/migrations.js'
import type { CellSchema } from '../child-cell/db/schema.js'
import type { HostState, RequestSpec } from '../child-cell/scheduler/host-state.js'
import { requestedDiskGb } from '../child-cell/scheduler/host-state.js'
import type { Database } from '../shared/db/database.js'
import { dropMysqlSchema, migrateToLatest, openDatabase, sql } from '../shared/db/database.js'
import { request } from './scheduler-bench.js'
import type { SyntheticTree } from './synthetic-tree.js'
import { consume, refreshReports, syntheticTree, treeScheduler } from './synthetic-tree.js'

/** 10 regions x 10 leaf cells x 100 hosts: 100 leaf cells, 10,000 hosts. */
const SHAPE = { regions: 10, leavesPerRegion: 10, hostsPerLeaf: 100 } as const

function newTree(): { tree: SyntheticTree; hosts: HostState[]; flavor: RequestSpec['flavor'] } {
  const flavor = request(0, [{ host: 'x' } as HostState]).flavor
  const tree = syntheticTree({ ...SHAPE, flavor })
  const hosts = tree.regions.flatMap((r) => r.leaves.flatMap((l) => l.hosts))
  return { tree, hosts, flavor }
}

/** Pure decisions down the tree (no database): per second of scheduler time, p50 and p99 in ms. */
export function benchTreeDecisions(iterations: number): Record<string, number> {
  const { tree, hosts } = newTree()
  const decide = treeScheduler(tree)
  const run = (i: number): number => {
    const spec = request(i, hosts)
    const t0 = performance.now()
    const d = decide(spec)
    const elapsed = performance.now() - t0
    if (d === undefined) throw new Error('the synthetic tree left no valid host')
    return elapsed
  }
  for (let i = 0; i < Math.min(iterations, 2000); i++) run(i)
  const times: number[] = []
  for (let i = 0; i < iterations; i++) times.push(run(i))
  return { 'tree.decisions': iterations, 'tree.perSecond': Math.round(iterations / (sum(times) / 1000)), ...percentiles('tree.decision', times) }
}

/** Claimed placements: decisions down the tree, then the atomic claim in the cell DB. */
export async function benchClaims(args: {
  readonly label: string
  readonly dialect: 'sqlite' | 'mysql'
  readonly placements: number
  readonly concurrency: number
  readonly freshReads?: boolean
}): Promise<Record<string, number>> {
  const { tree, hosts, flavor } = newTree()
  const decide = treeScheduler(tree)
  const scratch = args.dialect === 'sqlite' ? mkdtempSync(join(tmpdir(), 'bench-claims-')) : undefined
  const url =
    scratch !== undefined
      ? `sqlite:${join(scratch, 'cell.db')}`
      : `mysql://root@127.0.0.1:3306/bench_claims_${randomBytes(4).toString('hex')}?pool=${Math.max(4, args.concurrency)}`
  const database: Database<CellSchema> = await openDatabase<CellSchema>(url)
  try {
    await migrateToLatest(database.db, cellMigrations)
    await insertNodes(database.db, hosts)
    const need = { memoryMb: flavor.memoryMb, vcpus: flavor.vcpus, diskGb: requestedDiskGb(flavor) }
    let lost = 0
    let refused = 0
    const place = async (i: number): Promise<number> => {
      const spec: RequestSpec = { ...request(i, hosts), instanceUuid: uuidOf(i) }
      delete (spec as { group?: unknown }).group
      const t0 = performance.now()
      let d = decide(spec)
      if (d !== undefined && args.freshReads === true) {
        await refreshLeaf(database.db, d.leaf.hosts)
        refreshReports(d.region, d.leaf, flavor)
        d = decide(spec)
      }
      for (const h of d?.ranked ?? []) {
        if (d === undefined) break
        // Counted before the claim returns, as the scheduler's cache does, so that the decisions
        // made meanwhile see it; a lost claim re-reads the host.
        consume(d.region, d.leaf, h, flavor)
        const r = await claimResources(database.db, { instanceUuid: spec.instanceUuid, nodeId: h.nodeId, ...need })
        if (r.claimed) return performance.now() - t0
        lost += 1
        await refreshLeaf(database.db, d.leaf.hosts, h.nodeId)
        refreshReports(d.region, d.leaf, flavor)
      }
      refused += 1
      return performance.now() - t0
    }
    const warm = Math.min(500, args.placements)
    await runConcurrently(warm, args.concurrency, (k) => place(1_000_000 + k))
    const start = performance.now()
    const times = await runConcurrently(args.placements, args.concurrency, place)
    const wall = performance.now() - start
    const p = `${args.label}`
    return {
      [`${p}.placements`]: args.placements,
      [`${p}.concurrency`]: args.concurrency,
      [`${p}.perSecond`]: Math.round((args.placements / wall) * 1000),
      ...percentiles(`${p}.placement`, times),
      [`${p}.lostClaims`]: lost,
      [`${p}.noValidHost`]: refused,
      [`${p}.overCommittedHosts`]: await overCommitted(database.db),
    }
  } finally {
    await database.close()
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true })
    else await dropMysqlSchema(url.replace(/\?.*$/, ''))
  }
}

/** Runs `count` tasks with `concurrency` in flight; returns each task's figure, in order. */
async function runConcurrently(count: number, concurrency: number, task: (i: number) => Promise<number>): Promise<number[]> {
  const out = new Array<number>(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      for (let i = next++; i < count; i = next++) out[i] = await task(i)
    }),
  )
  return out
}

async function insertNodes(db: Kysely<CellSchema>, hosts: readonly HostState[]): Promise<void> {
  const now = Date.now()
  for (let i = 0; i < hosts.length; i += 500) {
    await db
      .insertInto('compute_nodes')
      .values(
        hosts.slice(i, i + 500).map((h) => ({
          id: h.nodeId,
          uuid: `00000000-0000-4000-9000-${String(h.nodeId).padStart(12, '0')}`,
          host: h.host,
          hypervisor_hostname: h.host,
          host_ip: '127.0.0.1',
          availability_zone: h.availabilityZone,
          vcpus: h.vcpus,
          memory_mb: h.memoryMb,
          local_gb: h.localGb,
          vcpus_used: h.vcpusUsed,
          memory_mb_used: h.memoryMbUsed,
          local_gb_used: h.localGbUsed,
          running_vms: h.instances,
          cpu_allocation_ratio: h.cpuAllocationRatio,
          ram_allocation_ratio: h.ramAllocationRatio,
          disk_allocation_ratio: h.diskAllocationRatio,
          reserved_host_memory_mb: h.reservedHostMemoryMb,
          reserved_host_disk_gb: h.reservedHostDiskGb,
          hypervisor_type: h.hypervisorType,
          hypervisor_version: h.hypervisorVersion,
          cpu_arch: h.cpuArch,
          cpu_info: '{}',
          generation: 0,
          created_at: now,
          updated_at: now,
        })),
      )
      .execute()
  }
}

/**
 * Re-reads the usage of a leaf's hosts (or of one of them) from the cell DB: what an uncached
 * scheduler does per decision, and a cached one after a lost claim.
 */
async function refreshLeaf(db: Kysely<CellSchema>, leafHosts: HostState[], only?: number): Promise<void> {
  const ids = leafHosts.map((h) => h.nodeId)
  const rows = await db
    .selectFrom('compute_nodes')
    .select(['id', 'vcpus_used', 'memory_mb_used', 'local_gb_used', 'running_vms', 'generation'])
    .where('id', '>=', only ?? Math.min(...ids))
    .where('id', '<=', only ?? Math.max(...ids))
    .execute()
  const byId = new Map(rows.map((r) => [r.id, r]))
  for (let i = 0; i < leafHosts.length; i++) {
    const h = leafHosts[i] as HostState
    const r = byId.get(h.nodeId)
    if (r !== undefined) {
      leafHosts[i] = { ...h, vcpusUsed: r.vcpus_used, memoryMbUsed: r.memory_mb_used, localGbUsed: r.local_gb_used, instances: r.running_vms, generation: r.generation }
    }
  }
}

/** Hosts holding a claim from this run that are beyond capacity x ratio (must be 0). */
async function overCommitted(db: Kysely<CellSchema>): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*) as n from compute_nodes n
    where exists (select 1 from allocations a where a.node_id = n.id)
      and (n.memory_mb_used > n.memory_mb * n.ram_allocation_ratio - n.reserved_host_memory_mb
        or n.vcpus_used > n.vcpus * n.cpu_allocation_ratio
        or n.local_gb_used > n.local_gb * n.disk_allocation_ratio - n.reserved_host_disk_gb)`.execute(db)
  return Number(rows[0]?.n ?? -1)
}

function uuidOf(i: number): string {
  return `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`
}

function sum(xs: readonly number[]): number {
  return xs.reduce((t, x) => t + x, 0)
}

function percentiles(prefix: string, samples: readonly number[]): Record<string, number> {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  const round = (n: number): number => Math.round(n * 1000) / 1000
  return { [`${prefix}.p50Ms`]: round(at(0.5)), [`${prefix}.p99Ms`]: round(at(0.99)) }
}
