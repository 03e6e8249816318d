import type { Microversion } from '../microversion.js'
import { atLeast } from '../microversion.js'
import type { ServicedHost } from '../hosts/host-inventory.js'

/** A server as hypervisor views list it. */
export interface HostedServer {
  readonly uuid: string
  readonly name: string
}

/** How to render one hypervisor. */
export interface HypervisorViewOptions {
  readonly mv: Microversion
  readonly detail: boolean
  /** Servers on the host, when the caller asked for them (`/servers`, `with_servers`). */
  readonly servers?: readonly HostedServer[]
  /** `with_servers=true` was asked (from 2.75 an empty list is then shown as `[]`). */
  readonly withServers?: boolean
  /** Instances on the host with a task in progress (Nova's current_workload). */
  readonly workload?: number
}

/**
 * One hypervisor as Nova renders it for the request's microversion:
 * - always `id`, `hypervisor_hostname`, `state`, `status`; ids are integers before 2.53 and the
 *   compute node's uuid (service: its uuid) from 2.53;
 * - detail adds the type, version, host IP and service, and before 2.88 the resource fields
 *   (with `cpu_info` a JSON string before 2.28, an object after); 2.88 adds `uptime`, null here as
 *   our virt drivers cannot tell it;
 * - `servers` when there are some, or `[]` from 2.75 when `with_servers` was asked.
 */
export function hypervisorView(h: ServicedHost, o: HypervisorViewOptions): Record<string, unknown> {
  const uuids = atLeast(o.mv, '2.53')
  const n = h.host
  const s = n.service
  const out: Record<string, unknown> = {
    id: uuids ? n.nodeUuid : h.hypervisorId,
    hypervisor_hostname: n.hypervisorHostname,
    state: s.up ? 'up' : 'down',
    status: s.disabled ? 'disabled' : 'enabled',
  }
  if (o.detail) {
    out['hypervisor_type'] = n.hypervisorType
    out['hypervisor_version'] = n.hypervisorVersion
    out['host_ip'] = n.hostIp
    out['service'] = { id: uuids ? s.uuid : h.serviceId, host: n.host, disabled_reason: s.disabledReason }
    if (!atLeast(o.mv, '2.88')) {
      Object.assign(out, resourceFields(h, o.workload ?? 0))
      out['cpu_info'] = atLeast(o.mv, '2.28') ? parseCpuInfo(n.cpuInfo) : n.cpuInfo
    } else {
      out['uptime'] = null
    }
  }
  if (o.servers !== undefined && o.servers.length > 0) out['servers'] = o.servers.map((v) => ({ name: v.name, uuid: v.uuid }))
  else if (o.withServers === true && atLeast(o.mv, '2.75')) out['servers'] = []
  return out
}

/** Nova's usage figures: "used" includes what the host reserves for itself, as its resource tracker counts. */
export function resourceFields(h: ServicedHost, workload: number): Record<string, number> {
  const n = h.host
  const memoryUsed = n.memoryMbUsed + n.reservedHostMemoryMb
  const diskUsed = n.localGbUsed + n.reservedHostDiskGb
  return {
    vcpus: n.vcpus,
    memory_mb: n.memoryMb,
    local_gb: n.localGb,
    vcpus_used: n.vcpusUsed,
    memory_mb_used: memoryUsed,
    local_gb_used: diskUsed,
    free_ram_mb: n.memoryMb - memoryUsed,
    free_disk_gb: n.localGb - diskUsed,
    current_workload: workload,
    running_vms: n.runningVms,
    disk_available_least: n.localGb - diskUsed,
  }
}

/** `GET /os-hypervisors/statistics`: the sums over `hosts`. */
export function statisticsView(hosts: readonly ServicedHost[], workloads: ReadonlyMap<string, number>): Record<string, number> {
  const sum: Record<string, number> = {
    count: hosts.length,
    vcpus_used: 0,
    local_gb_used: 0,
    memory_mb: 0,
    current_workload: 0,
    vcpus: 0,
    running_vms: 0,
    free_disk_gb: 0,
    disk_available_least: 0,
    local_gb: 0,
    free_ram_mb: 0,
    memory_mb_used: 0,
  }
  for (const h of hosts) {
    for (const [k, v] of Object.entries(resourceFields(h, workloads.get(h.host.host) ?? 0))) sum[k] = (sum[k] ?? 0) + v
  }
  return sum
}

function parseCpuInfo(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text)
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
