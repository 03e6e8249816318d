import type { RequestContext } from '../context.js'
import type { PbCellCapacity, PbCellUpdate, PbContext } from './proto.js'
import { eventFromPb, eventToPb } from './event-mapping.js'
import type { CellCapacity, CellUpdate, FlavorFit } from './types.js'

/** Protobuf <-> domain mapping for the cell link. */

export function ctxToPb(ctx: RequestContext): PbContext {
  return {
    request_id: ctx.requestId,
    user_id: ctx.userId ?? '',
    project_id: ctx.projectId ?? '',
    roles: [...(ctx.roles ?? [])],
  }
}

export function ctxFromPb(pb: PbContext | undefined, deadline?: number): RequestContext {
  return {
    requestId: pb?.request_id ?? '',
    ...(pb?.user_id ? { userId: pb.user_id } : {}),
    ...(pb?.project_id ? { projectId: pb.project_id } : {}),
    roles: pb?.roles ?? [],
    ...(deadline === undefined ? {} : { deadline }),
  }
}

export function capacityToPb(c: CellCapacity): PbCellCapacity {
  return {
    path: c.path,
    up: c.up,
    disabled: c.disabled,
    hosts_up: c.hostsUp,
    hosts_total: c.hostsTotal,
    instances: c.instances,
    ram_free_mb: c.ramFreeMb,
    ram_total_mb: c.ramTotalMb,
    vcpus_free: c.vcpusFree,
    vcpus_total: c.vcpusTotal,
    disk_free_gb: c.diskFreeGb,
    disk_total_gb: c.diskTotalGb,
    availability_zones: [...c.availabilityZones],
    hypervisor_types: [...c.hypervisorTypes],
    cpu_archs: [...c.cpuArchs],
    flavor_fits: Object.entries(c.flavorFits).map(([flavor_id, f]) => ({
      flavor_id,
      count: f.count,
      max_per_host: f.maxPerHost,
    })),
    generated_at_ms: c.generatedAtMs,
    aggregate: c.aggregate,
  }
}

export function capacityFromPb(pb: PbCellCapacity): CellCapacity {
  const flavorFits: Record<string, FlavorFit> = {}
  for (const f of pb.flavor_fits) flavorFits[f.flavor_id] = { count: f.count, maxPerHost: f.max_per_host }
  return {
    path: pb.path,
    up: pb.up,
    disabled: pb.disabled,
    hostsUp: pb.hosts_up,
    hostsTotal: pb.hosts_total,
    instances: pb.instances,
    ramFreeMb: pb.ram_free_mb,
    ramTotalMb: pb.ram_total_mb,
    vcpusFree: pb.vcpus_free,
    vcpusTotal: pb.vcpus_total,
    diskFreeGb: pb.disk_free_gb,
    diskTotalGb: pb.disk_total_gb,
    availabilityZones: pb.availability_zones,
    hypervisorTypes: pb.hypervisor_types,
    cpuArchs: pb.cpu_archs,
    flavorFits,
    generatedAtMs: pb.generated_at_ms,
    aggregate: pb.aggregate,
  }
}

export function updateToPb(u: CellUpdate): PbCellUpdate {
  if (u.kind === 'capacity') return { capacity: { cells: u.cells.map(capacityToPb) } }
  return {
    events: { cursor: u.cursor, events: u.events.map(eventToPb) },
  }
}

/** Throws {@link InvalidError} (from event-mapping.ts) for events it cannot read. */
export function updateFromPb(pb: PbCellUpdate): CellUpdate | undefined {
  if (pb.kind === 'capacity' && pb.capacity) return { kind: 'capacity', cells: pb.capacity.cells.map(capacityFromPb) }
  if (pb.kind === 'events' && pb.events) {
    return { kind: 'events', cursor: pb.events.cursor, events: pb.events.events.map(eventFromPb) }
  }
  return undefined
}
