import type { Kysely } from 'kysely'
import type { CellSchema } from '../db/schema.js'
import type { HostState } from './host-state.js'

/**
 * Reads the host states of the cell: compute nodes with their usage (from claims) and whether
 * their compute service is up. Fresh on every read: correctness never depends on a cache, since a
 * stale view only costs a failed conditional claim.
 */
export async function loadHostStates(db: Kysely<CellSchema>, serviceDownMs: number): Promise<HostState[]> {
  const now = Date.now()
  const [nodes, services] = await Promise.all([
    db.selectFrom('compute_nodes').selectAll().execute(),
    db.selectFrom('services').select(['host', 'disabled', 'forced_down', 'last_seen_up']).where('binary', '=', 'nova-compute').execute(),
  ])
  const byHost = new Map(services.map((s) => [s.host, s]))
  return nodes.map((n) => {
    const s = byHost.get(n.host)
    const info = safeJson(n.cpu_info)
    return {
      host: n.host,
      nodeId: n.id,
      availabilityZone: n.availability_zone,
      vcpus: n.vcpus,
      vcpusUsed: n.vcpus_used,
      memoryMb: n.memory_mb,
      memoryMbUsed: n.memory_mb_used,
      localGb: n.local_gb,
      localGbUsed: n.local_gb_used,
      reservedHostMemoryMb: n.reserved_host_memory_mb,
      reservedHostDiskGb: n.reserved_host_disk_gb,
      cpuAllocationRatio: n.cpu_allocation_ratio,
      ramAllocationRatio: n.ram_allocation_ratio,
      diskAllocationRatio: n.disk_allocation_ratio,
      serviceUp: s !== undefined && s.forced_down === 0 && now - s.last_seen_up <= serviceDownMs,
      serviceDisabled: s === undefined || s.disabled === 1,
      instances: n.running_vms,
      hypervisorType: n.hypervisor_type,
      hypervisorVersion: n.hypervisor_version,
      cpuArch: n.cpu_arch,
      capabilities: {
        cpu_arch: n.cpu_arch,
        hypervisor_type: n.hypervisor_type,
        hypervisor_version: String(n.hypervisor_version),
        ...(typeof info['model'] === 'string' ? { cpu_model: info['model'] } : {}),
      },
      generation: n.generation,
    }
  })
}

function safeJson(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text)
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
