/**
 * The listing bench's bulk path: fills an embedded federation with servers by writing what a real
 * build leaves behind once it is ACTIVE, without booting them (1e5 boots would take most of an
 * hour on a 2-core machine):
 *
 * - in the API cell, per server, the build request's traces that stay: the instance mapping (its
 *   cell set, as placement leaves it) and the index row, written as `POST /servers` writes it
 *   (`building`, version 0);
 * - in the leaf, the instance row (ACTIVE on the leaf's host, version 1) and its claim
 *   (allocation, compute node usage), written through the conductor's own InstanceStore, which
 *   appends the upward event to the outbox in the same transaction.
 *
 * The events then travel up the tree the ordinary way (the agents' outbox pumps, relays at each
 * level) and bring the index rows to ACTIVE, version 1; {@link fillServers} returns once every
 * index row is there. What differs from real boots: no compute host spawned a guest (the fake
 * driver holds none of them), no instance action or build-request row was written or deleted,
 * and the leaf rows go from nothing to ACTIVE in one event instead of several.
 */
import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import type { ApiSchema } from '../api-cell/db/schema.js'
import { InstanceStore } from '../child-cell/conductor/instance-store.js'
import type { CellSchema } from '../child-cell/db/schema.js'
import type { FederationConfig } from '../shared/config/federation.js'
import { cellEndpoints } from '../shared/config/federation.js'
import type { CellConfig } from '../shared/config/regions.js'
import { allCells } from '../shared/config/regions.js'
import { openDatabase } from '../shared/db/database.js'

const TINY = { id: '1', name: 'm1.tiny', memoryMb: 512, vcpus: 1, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} }
const BATCH = 500

/** What the fill wrote, for the bench's filters and the smoke test's checks. */
export interface Filled {
  /** Every server's uuid. */
  readonly uuids: ReadonlySet<string>
  /** Servers per leaf path. */
  readonly perLeaf: ReadonlyMap<string, number>
  /** Names are `lst-<i>`; every 50th server is in ERROR instead of ACTIVE. */
  readonly errors: number
  /** Creation times run from `createdFrom`, one ms apart, in fill order. */
  readonly createdFrom: number
}

/**
 * Writes `servers` servers of `projectId` (user `userId`, image `imageRef`), spread round-robin
 * over the leaf cells of `cfg`, and waits (up to `timeoutMs`) until the API's index shows them
 * all as their leaves hold them.
 */
export async function fillServers(args: {
  readonly cfg: FederationConfig
  readonly api: Kysely<ApiSchema>
  readonly servers: number
  readonly projectId: string
  readonly userId: string
  readonly imageRef: string
  readonly timeoutMs?: number
}): Promise<Filled> {
  const leaves = allCells(args.cfg.regions).filter((c) => c.children.length === 0)
  if (leaves.length === 0) throw new Error('no leaf cells')
  const createdFrom = Date.now() - args.servers - 60_000
  const plan = Array.from({ length: args.servers }, (_, i) => ({ i, uuid: randomUUID(), leaf: leaves[i % leaves.length] as CellConfig }))
  const region = (leaf: CellConfig): string => leaf.path.split('!')[1] ?? ''
  const hostOf = (leaf: CellConfig): string => leaf.hosts[0]?.name ?? ''
  // The API's rows first, as POST /servers writes them before any cell hears of the build.
  for (let b = 0; b < plan.length; b += BATCH) {
    const part = plan.slice(b, b + BATCH)
    await args.api.transaction().execute(async (tx) => {
      await tx
        .insertInto('instance_mappings')
        .values(part.map((p) => ({ instance_uuid: p.uuid, cell_path: p.leaf.path, project_id: args.projectId, user_id: args.userId, region: region(p.leaf), queued_for_delete: 0, created_at: createdFrom + p.i })))
        .execute()
      await tx
        .insertInto('instance_index')
        .values(
          part.map((p) => ({
            uuid: p.uuid,
            project_id: args.projectId,
            user_id: args.userId,
            name: `lst-${p.i}`,
            vm_state: 'building',
            task_state: 'scheduling',
            power_state: 0,
            host: null,
            availability_zone: p.leaf.availabilityZone,
            cell_path: null,
            region: region(p.leaf),
            flavor_id: TINY.id,
            image_ref: args.imageRef,
            reservation_id: `r-${Math.floor(p.i / 100)}`,
            version: 0,
            tags: '[]',
            created_at: createdFrom + p.i,
            updated_at: createdFrom + p.i,
          })),
        )
        .execute()
    })
  }
  const perLeaf = new Map<string, number>()
  for (const leaf of leaves) {
    const mine = plan.filter((p) => p.leaf.path === leaf.path)
    perLeaf.set(leaf.path, mine.length)
    const db = await openDatabase<CellSchema>(cellEndpoints(args.cfg, leaf).databaseUrl)
    try {
      await fillLeaf(db.db, leaf, hostOf(leaf), mine, { ...args, createdFrom })
    } finally {
      await db.close()
    }
  }
  // The agents pump their outboxes on every report (the fill sent them no nudge): wait for the events.
  const end = Date.now() + (args.timeoutMs ?? 600_000)
  for (;;) {
    const r = await args.api.selectFrom('instance_index').select(sql<number>`count(*)`.as('n')).where('version', '>=', 1).where('project_id', '=', args.projectId).executeTakeFirstOrThrow()
    if (Number(r.n) >= args.servers) break
    if (Date.now() > end) throw new Error(`only ${r.n} of ${args.servers} index rows reached version 1`)
    await new Promise((res) => setTimeout(res, 200))
  }
  return { uuids: new Set(plan.map((p) => p.uuid)), perLeaf, errors: plan.filter((p) => p.i % 50 === 0).length, createdFrom }
}

async function fillLeaf(
  db: Kysely<CellSchema>,
  leaf: CellConfig,
  host: string,
  mine: ReadonlyArray<{ i: number; uuid: string }>,
  a: { readonly projectId: string; readonly userId: string; readonly imageRef: string; readonly createdFrom: number },
): Promise<void> {
  const store = new InstanceStore({ db, cellPath: leaf.path })
  const node = await db.selectFrom('compute_nodes').select(['id', 'hypervisor_hostname']).where('host', '=', host).executeTakeFirstOrThrow()
  for (let b = 0; b < mine.length; b += BATCH) {
    const part = mine.slice(b, b + BATCH)
    await db.transaction().execute(async (tx) => {
      for (const p of part) {
        const at = Date.now()
        await store.insert(tx, {
          uuid: p.uuid, name: `lst-${p.i}`, hostname: `lst-${p.i}`, project_id: a.projectId, user_id: a.userId,
          host, node: node.hypervisor_hostname, availability_zone: leaf.availabilityZone,
          flavor: JSON.stringify(TINY), flavor_id: TINY.id, image_ref: a.imageRef,
          vm_state: p.i % 50 === 0 ? 'error' : 'active', task_state: null, power_state: p.i % 50 === 0 ? 0 : 1,
          key_name: null, key_data: null, metadata: '{}', tags: '[]', user_data: null, description: null,
          reservation_id: `r-${Math.floor(p.i / 100)}`, launch_index: 0, locked: 0, locked_by: null, locked_reason: null,
          config_drive: '', access_ip_v4: null, access_ip_v6: null, fault: null,
          launched_at: at, terminated_at: null, created_at: a.createdFrom + p.i, updated_at: at,
          deleted: 0, deleted_at: null, shelved_image_id: null,
          network_info: null,
        })
      }
      await tx
        .insertInto('allocations')
        .values(part.map((p) => ({ instance_uuid: p.uuid, node_id: node.id, memory_mb: TINY.memoryMb, vcpus: TINY.vcpus, disk_gb: TINY.rootGb, created_at: Date.now() })))
        .execute()
      await tx
        .updateTable('compute_nodes')
        .set((eb) => ({
          vcpus_used: eb('vcpus_used', '+', part.length * TINY.vcpus),
          memory_mb_used: eb('memory_mb_used', '+', part.length * TINY.memoryMb),
          local_gb_used: eb('local_gb_used', '+', part.length * TINY.rootGb),
          running_vms: eb('running_vms', '+', part.length),
        }))
        .where('id', '=', node.id)
        .execute()
    })
  }
}
