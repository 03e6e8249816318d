import { sql } from 'kysely'
import type { Kysely, Transaction } from 'kysely'
import type { CellSchema } from './schema.js'

/** Resources one instance holds on one compute node. */
export interface ClaimArgs {
  readonly instanceUuid: string
  readonly nodeId: number
  readonly memoryMb: number
  readonly vcpus: number
  readonly diskGb: number
}

/**
 * Claims resources on a node with one conditional write: the update only matches while the node
 * still has room (usage + request <= total x ratio - reserved for RAM, vCPU and disk together), and
 * bumps the node's generation. Any number of schedulers in any number of processes can race here:
 * the database serialises the row update, so a node is never over-committed.
 *
 * Returns `true` when the claim is held (a repeated claim for the same instance on the same node
 * is `true` without claiming twice), `false` when the node has no room.
 */
export async function claimResources(db: Kysely<CellSchema>, c: ClaimArgs): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const existing = await tx
      .selectFrom('allocations')
      .select('node_id')
      .where('instance_uuid', '=', c.instanceUuid)
      .executeTakeFirst()
    if (existing !== undefined) return existing.node_id === c.nodeId
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
    if (Number(res.numUpdatedRows) !== 1) return false
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
    return true
  })
}

/** Gives back what `instanceUuid` holds, in the caller's transaction. Idempotent. */
export async function releaseResources(tx: Transaction<CellSchema>, instanceUuid: string): Promise<boolean> {
  const alloc = await tx.selectFrom('allocations').selectAll().where('instance_uuid', '=', instanceUuid).executeTakeFirst()
  if (alloc === undefined) return false
  const del = await tx.deleteFrom('allocations').where('instance_uuid', '=', instanceUuid).executeTakeFirst()
  if (Number(del.numDeletedRows) !== 1) return false
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
  return true
}
