import type { RequestContext } from '../../../shared/context.js'
import type { ComputeDeps } from '../deps.js'
import type { CellHost, CellService } from './cell-hosts.js'
import { listCellHosts } from './cell-hosts.js'
import { LegacyIds } from './legacy-ids.js'

/** A compute node with the integer ids the API gives it and its service (see {@link LegacyIds}). */
export interface NumberedHost {
  readonly host: CellHost
  readonly hypervisorId: number
  /** Null when the node has no compute service row (deleted service): Nova hides such nodes. */
  readonly serviceId: number | null
}

/** A {@link NumberedHost} whose service exists. */
export type ServicedHost = NumberedHost & { readonly host: CellHost & { readonly service: CellService }; readonly serviceId: number }

/**
 * Every compute node the caller's endpoint sees (the whole federation, or one region), numbered,
 * in id order (stable across calls: paging markers rely on it).
 */
export async function numberedHosts(d: ComputeDeps, ctx: RequestContext, region: string | null): Promise<NumberedHost[]> {
  const hosts = await listCellHosts(d, ctx, region)
  // First sight numbers hosts in tree order.
  hosts.sort((a, b) => (a.cellPath < b.cellPath ? -1 : a.cellPath > b.cellPath ? 1 : a.nodeId - b.nodeId))
  const ids = new LegacyIds(d.db)
  const hv = await ids.assign('hypervisor', hosts.map((h) => ({ ref: h.nodeUuid, cellPath: h.cellPath })))
  const withService = hosts.filter((h) => h.service !== null)
  const svc = await ids.assign('service', withService.map((h) => ({ ref: h.service?.uuid ?? '', cellPath: h.cellPath })))
  return hosts
    .map((h) => ({
      host: h,
      hypervisorId: hv.get(h.nodeUuid)?.id ?? 0,
      serviceId: h.service === null ? null : (svc.get(h.service.uuid)?.id ?? null),
    }))
    .sort((a, b) => a.hypervisorId - b.hypervisorId)
}

/** Only the hosts that have a compute service (what hypervisor and service listings show). */
export function serviced(hosts: readonly NumberedHost[]): ServicedHost[] {
  return hosts.filter((h): h is ServicedHost => h.host.service !== null && h.serviceId !== null)
}

/** Nova's timestamp form in admin views: `2024-01-31T12:00:00.000000`. */
export function novaTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000')
}

/** Nova's is_uuid_like (dashes optional): the federation's one uuid check, re-exported for the host routes. */
export { isUuidLike } from '../../../shared/uuid.js'

/** Nova's `bool_from_string(strict=True)` for query parameters; undefined for anything else. */
export function strictBool(v: unknown): boolean | undefined {
  if (typeof v !== 'string') return undefined
  const s = v.trim().toLowerCase()
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false
  return undefined
}
