import { randomUUID } from 'node:crypto'
import { addFits, aggregate } from '../../../shared/cell-link/capacity.js'
import type { CellCapacity, FlavorFit, FlavorShape } from '../../../shared/cell-link/types.js'
import type { RequestContext } from '../../../shared/context.js'
import { isDuplicateKey } from '../../../shared/db/database.js'
import type { ConductorDeps } from '../deps.js'
import type { ComputeNodeReport, HostRecord } from '../rpc-api.js'

/**
 * Compute's periodic "I am alive" (Nova's service report). `registered` is true when the service
 * row had to be created (first start, or after an operator deleted the service): the compute then
 * reports its inventory again, since deleting a compute service deletes its node too.
 */
export async function serviceHeartbeat(d: ConductorDeps, args: { host: string; binary: string; topic: string }): Promise<{ registered: boolean }> {
  const now = Date.now()
  const res = await d.db
    .updateTable('services')
    .set({ last_seen_up: now, updated_at: now, topic: args.topic })
    .where('host', '=', args.host)
    .where('binary', '=', args.binary)
    .executeTakeFirst()
  if (Number(res.numUpdatedRows) > 0) return { registered: false }
  try {
    await d.db
      .insertInto('services')
      .values({
        uuid: randomUUID(),
        host: args.host,
        binary: args.binary,
        topic: args.topic,
        disabled: 0,
        disabled_reason: null,
        forced_down: 0,
        last_seen_up: now,
        created_at: now,
        updated_at: now,
      })
      .execute()
  } catch (err) {
    if (!isDuplicateKey(err)) throw err
    return { registered: false }
  }
  return { registered: true }
}

/** Compute's inventory report: totals and ratios; usage stays what the claims say. */
export async function computeNodeUpdate(d: ConductorDeps, ctx: RequestContext, r: ComputeNodeReport): Promise<void> {
  const now = Date.now()
  const fields = {
    hypervisor_hostname: r.host,
    host_ip: r.hostIp,
    availability_zone: r.availabilityZone,
    vcpus: r.resources.vcpus,
    memory_mb: r.resources.memoryMb,
    local_gb: r.resources.localGb,
    cpu_allocation_ratio: r.cpuAllocationRatio,
    ram_allocation_ratio: r.ramAllocationRatio,
    disk_allocation_ratio: r.diskAllocationRatio,
    reserved_host_memory_mb: r.reservedHostMemoryMb,
    reserved_host_disk_gb: r.reservedHostDiskGb,
    hypervisor_type: r.resources.hypervisorType,
    hypervisor_version: r.resources.hypervisorVersion,
    cpu_arch: r.resources.cpuArch,
    cpu_info: JSON.stringify({ arch: r.resources.cpuArch, model: r.resources.cpuModel }),
    updated_at: now,
  }
  const res = await d.db.updateTable('compute_nodes').set(fields).where('host', '=', r.host).executeTakeFirst()
  if (Number(res.numUpdatedRows) === 0) {
    try {
      await d.db.insertInto('compute_nodes').values({
        ...fields,
        uuid: randomUUID(),
        host: r.host,
        created_at: now,
        vcpus_used: 0,
        memory_mb_used: 0,
        local_gb_used: 0,
        running_vms: 0,
        generation: 0,
      }).execute()
    } catch (err) {
      if (!isDuplicateKey(err)) throw err
    }
  }
  void d.agent.capacityChanged(ctx).catch(() => undefined)
}

/** Every compute node of this cell with its service. */
export async function listHosts(d: ConductorDeps): Promise<HostRecord[]> {
  const now = Date.now()
  const nodes = await d.db.selectFrom('compute_nodes').selectAll().orderBy('id').execute()
  const services = await d.db.selectFrom('services').selectAll().where('binary', '=', 'nova-compute').execute()
  const byHost = new Map(services.map((s) => [s.host, s]))
  return nodes.map((n) => {
    const s = byHost.get(n.host)
    return {
      cellPath: d.cellPath,
      nodeId: n.id,
      nodeUuid: n.uuid,
      host: n.host,
      hypervisorHostname: n.hypervisor_hostname,
      hostIp: n.host_ip,
      availabilityZone: n.availability_zone,
      vcpus: n.vcpus,
      vcpusUsed: n.vcpus_used,
      memoryMb: n.memory_mb,
      memoryMbUsed: n.memory_mb_used,
      localGb: n.local_gb,
      localGbUsed: n.local_gb_used,
      runningVms: n.running_vms,
      hypervisorType: n.hypervisor_type,
      hypervisorVersion: n.hypervisor_version,
      cpuInfo: n.cpu_info,
      cpuAllocationRatio: n.cpu_allocation_ratio,
      ramAllocationRatio: n.ram_allocation_ratio,
      diskAllocationRatio: n.disk_allocation_ratio,
      reservedHostMemoryMb: n.reserved_host_memory_mb,
      reservedHostDiskGb: n.reserved_host_disk_gb,
      service:
        s === undefined
          ? null
          : {
              id: s.id,
              uuid: s.uuid,
              binary: s.binary,
              disabled: s.disabled === 1,
              disabledReason: s.disabled_reason,
              forcedDown: s.forced_down === 1,
              up: s.forced_down === 0 && now - s.last_seen_up <= d.serviceDownMs,
              updatedAt: s.updated_at,
            },
    }
  })
}

/**
 * This cell's own capacity (its hosts only): free resources of hosts that are up and enabled, with
 * ratios and reserves applied, and per flavor how many fit host by host. `null` without hosts.
 */
export async function getCapacity(d: ConductorDeps, flavors: readonly FlavorShape[]): Promise<CellCapacity | null> {
  const hosts = await listHosts(d)
  if (hosts.length === 0) return null
  const now = Date.now()
  // Each host is a one-host "cell"; the subtree aggregation then does the sums and unions.
  const parts = hosts.map((h): CellCapacity => {
    const ram = h.memoryMb * h.ramAllocationRatio - h.reservedHostMemoryMb
    const cpu = h.vcpus * h.cpuAllocationRatio
    const disk = h.localGb * h.diskAllocationRatio - h.reservedHostDiskGb
    const up = h.service !== null && h.service.up && !h.service.disabled
    const free = { memoryMb: Math.max(0, ram - h.memoryMbUsed), vcpus: Math.max(0, cpu - h.vcpusUsed), diskGb: Math.max(0, disk - h.localGbUsed) }
    const fits: Record<string, FlavorFit> = {}
    addFits(fits, free, flavors)
    return {
      path: h.host,
      up,
      disabled: false,
      hostsUp: up ? 1 : 0,
      hostsTotal: 1,
      instances: h.runningVms,
      ramFreeMb: free.memoryMb,
      ramTotalMb: ram,
      vcpusFree: free.vcpus,
      vcpusTotal: cpu,
      diskFreeGb: free.diskGb,
      diskTotalGb: disk,
      availabilityZones: [h.availabilityZone],
      hypervisorTypes: [h.hypervisorType],
      cpuArchs: [(JSON.parse(h.cpuInfo) as { arch: string }).arch],
      flavorFits: fits,
      generatedAtMs: now,
      aggregate: false,
    }
  })
  const own = aggregate(d.cellPath, parts, now, false)
  const flavorFits: Record<string, FlavorFit> = {}
  for (const f of flavors) flavorFits[f.id] = own.flavorFits[f.id] ?? { count: 0, maxPerHost: 0 }
  return { ...own, flavorFits, aggregate: false }
}
