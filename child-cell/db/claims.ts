import { sql } from 'kysely'
import type { Kysely, Transaction } from 'kysely'
import { isDuplicateKey } from '../../shared/db/database.js'
import type { CellSchema } from './schema.js'

/** A server group with a hard policy, claimed together with the resources. */
export interface GroupClaim {
  readonly uuid: string
  readonly policy: 'affinity' | 'anti-affinity'
  /** Anti-affinity: members allowed per host (Nova's `max_server_per_host`, default 1). */
  readonly maxServerPerHost: number
  /** The host the instance is claimed on. */
  readonly host: string
}

/** Resources one instance holds on one compute node. */
export interface ClaimArgs {
  readonly instanceUuid: string
  readonly nodeId: number
  readonly memoryMb: number
  readonly vcpus: number
  readonly diskGb: number
  /** The instance's server group when its policy is hard (affinity or anti-affinity). */
  readonly group?: GroupClaim
}

/**
 * What a claim found: held on `nodeId` (the node asked for, or, when the instance already held a
 * claim, the node it holds it on: claims are idempotent per instance), or not held (no room, or a
 * concurrent claim won the node or the group's slot).
 */
export type ClaimResult = { readonly claimed: true; readonly nodeId: number } | { readonly claimed: false }

const NOT_CLAIMED: ClaimResult = Object.freeze({ claimed: false })

/**
 * Claims resources on a node with one conditional write: the update only matches while the node
 * still has room (usage + request <= total x ratio - reserved for RAM, vCPU and disk together), and
 * bumps the node's generation. Any number of schedulers in any number of processes can race here:
 * the database serialises the row update, so a node is never over-committed.
 *
 * With a hard server-group policy, the group's member counter is claimed in the same transaction
 * (see {@link claimGroupSlot}): two schedulers that both saw a host free for an anti-affinity group
 * cannot both put a member on it, and two first members of an affinity group cannot pick two hosts.
 *
 * A repeated claim for an instance that already holds one claims nothing and answers with the
 * node it holds: the caller (a retried RPC) gets the same placement back.
 */
export async function claimResources(db: Kysely<CellSchema>, c: ClaimArgs): Promise<ClaimResult> {
  try {
    return await db.transaction().execute(async (tx) => {
      const res = await tx
        .updateTable('compute_nodes')
        .set({
          memory_mb_used: sql`memory_mb_used + ${c.memoryMb}`,
          vcpus_used: sql`vcpus_used + ${c.vcpus}`,
          local_gb_used: sql`local_gb_used + ${c.diskGb}`,
          running_vms: sql`running_vms + 1`,
          generation: sql`generation + 1`,
        })
        .where('id', '=', c.nodeId)
        .where(sql<boolean>`memory_mb_used + ${c.memoryMb} <= memory_mb * ram_allocation_ratio - reserved_host_memory_mb`)
        .where(sql<boolean>`vcpus_used + ${c.vcpus} <= vcpus * cpu_allocation_ratio`)
        .where(sql<boolean>`local_gb_used + ${c.diskGb} <= local_gb * disk_allocation_ratio - reserved_host_disk_gb`)
        .executeTakeFirst()
      if (Number(res.numUpdatedRows) !== 1) return NOT_CLAIMED
      // The allocation's primary key makes a second claim for the instance fail (and roll back the
      // update above), which saves a read on the common path.
      await tx
        .insertInto('allocations')
        .values({
          instance_uuid: c.instanceUuid,
          node_id: c.nodeId,
          memory_mb: c.memoryMb,
          vcpus: c.vcpus,
          disk_gb: c.diskGb,
          created_at: Date.now(),
        })
        .execute()
      if (c.group !== undefined) await claimGroupSlot(tx, c.instanceUuid, c.group)
      return { claimed: true, nodeId: c.nodeId } as const
    })
  } catch (err) {
    if (isDeadlock(err)) return NOT_CLAIMED
    if (!isDuplicateKey(err)) throw err
    // Either the instance already holds a claim, or a concurrent claim took the group's slot.
    const existing = await db.selectFrom('allocations').select('node_id').where('instance_uuid', '=', c.instanceUuid).executeTakeFirst()
    return existing === undefined ? NOT_CLAIMED : { claimed: true, nodeId: existing.node_id }
  }
}

/**
 * Takes one member slot of a server group on `group.host`, in the claim's transaction. Throws a
 * duplicate-key error (which rolls the claim back) when the policy forbids it:
 * - anti-affinity: the row `(group, host)` counts members on the host; the increment only matches
 *   below `maxServerPerHost`, and when it matches nothing the insert of a first row fails on the
 *   primary key if the row exists (full) or was inserted concurrently;
 * - affinity: the single row `(group, '')` names the group's host; the increment only matches on
 *   that host, and the insert of the first row fails if another host got there first.
 * Both are plain row operations, so they hold whatever the isolation level.
 */
export async function claimGroupSlot(tx: Transaction<CellSchema>, instanceUuid: string, group: GroupClaim): Promise<void> {
  const slot = group.policy === 'affinity' ? '' : group.host
  let q = tx
    .updateTable('server_group_hosts')
    .set({ members: sql`members + 1` })
    .where('group_uuid', '=', group.uuid)
    .where('slot', '=', slot)
    .where('host', '=', group.host)
  if (group.policy === 'anti-affinity') q = q.where('members', '<', Math.max(1, group.maxServerPerHost))
  const res = await q.executeTakeFirst()
  if (Number(res.numUpdatedRows) !== 1) {
    await tx.insertInto('server_group_hosts').values({ group_uuid: group.uuid, slot, host: group.host, members: 1 }).execute()
  }
  await tx.insertInto('server_group_claims').values({ instance_uuid: instanceUuid, group_uuid: group.uuid, slot }).execute()
}

/**
 * Gives back what `instanceUuid` holds, in the caller's transaction: its resources and its server
 * group slot. Idempotent. Returns whether resources were released.
 */
export async function releaseResources(tx: Transaction<CellSchema>, instanceUuid: string): Promise<boolean> {
  await releaseGroupSlot(tx, instanceUuid)
  const alloc = await tx.selectFrom('allocations').selectAll().where('instance_uuid', '=', instanceUuid).executeTakeFirst()
  if (alloc === undefined) return false
  const del = await tx.deleteFrom('allocations').where('instance_uuid', '=', instanceUuid).executeTakeFirst()
  if (Number(del.numDeletedRows) !== 1) return false
  await giveBack(tx, alloc)
  return true
}

/**
 * Ends a move in the caller's transaction: the claim held under `migrationUuid` (the target host's)
 * becomes the instance's, after the instance's own (the source host's) was given back. Idempotent:
 * a second call finds no claim under the migration and changes nothing.
 */
export async function adoptMoveClaim(tx: Transaction<CellSchema>, migrationUuid: string, instanceUuid: string): Promise<void> {
  const target = await tx.selectFrom('allocations').select('node_id').where('instance_uuid', '=', migrationUuid).executeTakeFirst()
  if (target === undefined) return
  const alloc = await tx.selectFrom('allocations').selectAll().where('instance_uuid', '=', instanceUuid).executeTakeFirst()
  if (alloc !== undefined) {
    await tx.deleteFrom('allocations').where('instance_uuid', '=', instanceUuid).execute()
    await giveBack(tx, alloc)
  }
  await tx.updateTable('allocations').set({ instance_uuid: instanceUuid }).where('instance_uuid', '=', migrationUuid).execute()
}

/** The node's usage without a deleted allocation's resources (and one guest fewer). */
async function giveBack(tx: Transaction<CellSchema>, alloc: { memory_mb: number; vcpus: number; disk_gb: number; node_id: number }): Promise<void> {
  await tx
    .updateTable('compute_nodes')
    .set({
      memory_mb_used: sql`memory_mb_used - ${alloc.memory_mb}`,
      vcpus_used: sql`vcpus_used - ${alloc.vcpus}`,
      local_gb_used: sql`local_gb_used - ${alloc.disk_gb}`,
      running_vms: sql`running_vms - 1`,
      generation: sql`generation + 1`,
    })
    .where('id', '=', alloc.node_id)
    .execute()
}

async function releaseGroupSlot(tx: Transaction<CellSchema>, instanceUuid: string): Promise<void> {
  const held = await tx.selectFrom('server_group_claims').selectAll().where('instance_uuid', '=', instanceUuid).executeTakeFirst()
  if (held === undefined) return
  const del = await tx.deleteFrom('server_group_claims').where('instance_uuid', '=', instanceUuid).executeTakeFirst()
  if (Number(del.numDeletedRows) !== 1) return
  await tx
    .updateTable('server_group_hosts')
    .set({ members: sql`members - 1` })
    .where('group_uuid', '=', held.group_uuid)
    .where('slot', '=', held.slot)
    .execute()
  // The last member gone: an affinity group may start over on any host, as in Nova.
  await tx.deleteFrom('server_group_hosts').where('group_uuid', '=', held.group_uuid).where('slot', '=', held.slot).where('members', '<=', 0).execute()
}

/** Members per host of `groupUuid` in this cell, from the claim counters. */
export async function groupHostCounts(db: Kysely<CellSchema>, groupUuid: string): Promise<Map<string, number>> {
  const rows = await db.selectFrom('server_group_hosts').select(['host', 'members']).where('group_uuid', '=', groupUuid).execute()
  const out = new Map<string, number>()
  for (const r of rows) if (r.members > 0) out.set(r.host, (out.get(r.host) ?? 0) + r.members)
  return out
}

/** InnoDB chose this transaction as a deadlock victim: it was rolled back, like a lost race. */
function isDeadlock(err: unknown): boolean {
  const e = err as { code?: string; errno?: number } | undefined
  return e?.code === 'ER_LOCK_DEADLOCK' || e?.errno === 1213
}
