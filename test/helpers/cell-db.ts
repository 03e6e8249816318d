import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { CellSchema, ComputeNodesTable } from '../../child-cell/db/schema.js'

/** Inserts a compute node (ratios 1, nothing reserved or used unless overridden); returns its id. */
export async function insertNode(db: Kysely<CellSchema>, overrides: Partial<Omit<ComputeNodesTable, 'id'>> & { host: string }): Promise<number> {
  const now = Date.now()
  await db
    .insertInto('compute_nodes')
    .values({
      uuid: randomUUID(),
      hypervisor_hostname: overrides.host,
      host_ip: '127.0.0.1',
      availability_zone: 'nova',
      vcpus: 4,
      memory_mb: 8192,
      local_gb: 100,
      vcpus_used: 0,
      memory_mb_used: 0,
      local_gb_used: 0,
      running_vms: 0,
      cpu_allocation_ratio: 1,
      ram_allocation_ratio: 1,
      disk_allocation_ratio: 1,
      reserved_host_memory_mb: 0,
      reserved_host_disk_gb: 0,
      hypervisor_type: 'fake',
      hypervisor_version: 1000,
      cpu_arch: 'x86_64',
      cpu_info: '{}',
      generation: 0,
      created_at: now,
      updated_at: now,
      ...overrides,
    })
    .execute()
  const row = await db.selectFrom('compute_nodes').select('id').where('host', '=', overrides.host).executeTakeFirstOrThrow()
  return row.id
}
