import { createHash } from 'node:crypto'
import type { InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { Microversion } from '../microversion.js'
import type { ServerAddresses } from './addresses.js'
import { basicAddresses } from './addresses.js'
import { atLeast } from '../microversion.js'
import { statusOf } from './status.js'

/** How links are built for this request (the endpoint the client used). */
export interface LinkBase {
  /** e.g. `http://127.0.0.1:8774/v2.1` or `http://127.0.0.1:8774/regions/region-one/v2.1`. */
  readonly versioned: string
  /** e.g. `http://127.0.0.1:8774` (bookmark links). */
  readonly unversioned: string
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'))
const isoMicro = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString().replace('Z', '000'))

/** Nova's `hostId`: sha224 of project id + host, empty without a host. */
export function hostIdOf(projectId: string, host: string | null): string {
  return host === null || host === '' ? '' : createHash('sha224').update(projectId + host).digest('hex')
}

export function links(base: LinkBase, collection: string, id: string): Array<{ rel: string; href: string }> {
  return [
    { rel: 'self', href: `${base.versioned}/${collection}/${id}` },
    { rel: 'bookmark', href: `${base.unversioned}/${collection}/${id}` },
  ]
}

/**
 * Nova's 2.69 partial record of a server whose cell is down: id, status UNKNOWN, tenant, creation
 * time and links; a show adds user, flavor, image, availability zone, power state and (2.71)
 * server groups.
 */
export function partialServer(base: LinkBase, r: InstanceRecord, o: ViewOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: r.uuid,
    status: 'UNKNOWN',
    tenant_id: r.projectId,
    created: iso(r.createdAt),
    links: links(base, 'servers', r.uuid),
  }
  if (o.show !== true) return out
  out['user_id'] = r.userId === '' ? 'UNKNOWN' : r.userId
  out['image'] = r.imageRef === '' ? '' : { id: r.imageRef, links: [{ rel: 'bookmark', href: `${base.unversioned}/images/${r.imageRef}` }] }
  out['flavor'] = atLeast(o.mv, '2.47')
    ? { vcpus: r.flavor.vcpus, ram: r.flavor.memoryMb, disk: r.flavor.rootGb, ephemeral: r.flavor.ephemeralGb, swap: r.flavor.swapMb, original_name: r.flavor.name, extra_specs: r.flavor.extraSpecs }
    : { id: r.flavor.id, links: [{ rel: 'bookmark', href: `${base.unversioned}/flavors/${r.flavor.id}` }] }
  out['OS-EXT-AZ:availability_zone'] = r.availabilityZone ?? 'UNKNOWN'
  out['OS-EXT-STS:power_state'] = r.powerState
  if (o.serverGroups !== undefined) out['server_groups'] = o.serverGroups
  return out
}

/** `GET /servers` entry of a server whose cell is down, from 2.69: no name, status UNKNOWN. */
export function partialSummary(base: LinkBase, s: { uuid: string }): object {
  return { id: s.uuid, status: 'UNKNOWN', links: links(base, 'servers', s.uuid) }
}

/** `GET /servers` entry. */
export function serverSummary(base: LinkBase, s: { uuid: string; name: string }): object {
  return { id: s.uuid, name: s.name, links: links(base, 'servers', s.uuid) }
}

/** What the detail view needs to know beside the record. */
export interface ViewOptions {
  readonly mv: Microversion
  readonly isAdmin: boolean
  /**
   * The owning cell is down: status UNKNOWN. From 2.69 the body is Nova's partial record (what
   * the API cell knows); below 2.69 the full shape, filled from the index.
   */
  readonly unknown?: boolean
  /** `GET /servers/{id}` (the 2.69 partial record of a show carries more than a list's). */
  readonly show?: boolean
  /** Only the core fields, as Nova answers `PUT /servers/{id}` and rebuild. */
  readonly basic?: boolean
  /**
   * A rebuild's answer: never `OS-EXT-SRV-ATTR:user_data` (Nova's `show_user_data=False`), since it
   * carries `user_data` from 2.57 already; Tempest's 2.75 rebuild schema rejects the extended key.
   */
  readonly rebuild?: boolean
  /**
   * The server's groups (at most one). From 2.71 show, update and rebuild carry `server_groups`;
   * list detail never does (Tempest's list schema rejects the key), so leave this out there.
   */
  readonly serverGroups?: readonly string[]
  /** The server's `addresses` (see addresses.ts); absent: none. */
  readonly addresses?: ServerAddresses
  /**
   * The names of the security groups of the server's ports (see addresses.ts); absent (no
   * network service, or a server without ports): `default`, as before networks.
   */
  readonly securityGroups?: readonly string[]
}

/** Keys the basic view (update, rebuild) leaves out. */
const EXTENDED_KEYS = [
  'OS-EXT-AZ:availability_zone',
  'config_drive',
  'key_name',
  'OS-SRV-USG:launched_at',
  'OS-SRV-USG:terminated_at',
  'security_groups',
  'OS-EXT-STS:task_state',
  'OS-EXT-STS:vm_state',
  'OS-EXT-STS:power_state',
  'os-extended-volumes:volumes_attached',
  'host_status',
] as const

/** The full server representation per microversion. */
export function serverDetail(base: LinkBase, r: InstanceRecord, o: ViewOptions): Record<string, unknown> {
  if (o.unknown === true && atLeast(o.mv, '2.69')) return partialServer(base, r, o)
  const status = o.unknown === true ? 'UNKNOWN' : statusOf(r.vmState, r.taskState)
  const flavor = atLeast(o.mv, '2.47')
    ? {
        vcpus: r.flavor.vcpus,
        ram: r.flavor.memoryMb,
        disk: r.flavor.rootGb,
        ephemeral: r.flavor.ephemeralGb,
        swap: r.flavor.swapMb,
        original_name: r.flavor.name,
        extra_specs: r.flavor.extraSpecs,
      }
    : { id: r.flavor.id, links: [{ rel: 'bookmark', href: `${base.unversioned}/flavors/${r.flavor.id}` }] }
  const out: Record<string, unknown> = {
    id: r.uuid,
    name: r.name,
    status,
    tenant_id: r.projectId,
    user_id: r.userId,
    metadata: r.metadata,
    hostId: hostIdOf(r.projectId, r.host),
    image: r.imageRef === '' ? '' : { id: r.imageRef, links: [{ rel: 'bookmark', href: `${base.unversioned}/images/${r.imageRef}` }] },
    flavor,
    created: iso(r.createdAt),
    updated: iso(r.updatedAt),
    addresses: o.addresses ?? {},
    accessIPv4: r.accessIpV4 ?? '',
    accessIPv6: r.accessIpV6 ?? '',
    links: links(base, 'servers', r.uuid),
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-EXT-AZ:availability_zone': r.availabilityZone ?? '',
    config_drive: r.configDrive,
    key_name: r.keyName,
    'OS-SRV-USG:launched_at': isoMicro(r.launchedAt)?.replace('Z', '').slice(0, 26) ?? null,
    'OS-SRV-USG:terminated_at': isoMicro(r.terminatedAt)?.replace('Z', '').slice(0, 26) ?? null,
    security_groups: (o.securityGroups ?? ['default']).map((name) => ({ name })),
    'OS-EXT-STS:task_state': r.taskState,
    'OS-EXT-STS:vm_state': r.vmState,
    'OS-EXT-STS:power_state': r.powerState,
    'os-extended-volumes:volumes_attached': [],
  }
  if (['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING'].includes(status)) {
    out['progress'] = status === 'BUILD' ? 0 : 100
  }
  if (r.fault !== null && (r.vmState === 'error' || r.vmState === 'deleted')) {
    out['fault'] = {
      code: r.fault.code,
      created: iso(r.fault.created),
      message: r.fault.message,
      ...(o.isAdmin && r.fault.details !== undefined ? { details: r.fault.details } : {}),
    }
  }
  if (o.isAdmin) {
    out['OS-EXT-SRV-ATTR:host'] = r.host
    out['OS-EXT-SRV-ATTR:instance_name'] = `instance-${r.uuid.slice(0, 8)}`
    out['OS-EXT-SRV-ATTR:hypervisor_hostname'] = r.node
  }
  if (atLeast(o.mv, '2.3') && o.isAdmin) {
    out['OS-EXT-SRV-ATTR:reservation_id'] = r.reservationId
    out['OS-EXT-SRV-ATTR:launch_index'] = r.launchIndex
    out['OS-EXT-SRV-ATTR:hostname'] = r.hostname
    out['OS-EXT-SRV-ATTR:kernel_id'] = ''
    out['OS-EXT-SRV-ATTR:ramdisk_id'] = ''
    out['OS-EXT-SRV-ATTR:root_device_name'] = '/dev/vda'
    if (o.rebuild !== true) out['OS-EXT-SRV-ATTR:user_data'] = r.userData
  }
  if (atLeast(o.mv, '2.9')) out['locked'] = r.locked
  if (atLeast(o.mv, '2.16') && o.isAdmin) out['host_status'] = r.host === null ? '' : o.unknown === true ? 'UNKNOWN' : 'UP'
  if (atLeast(o.mv, '2.19')) out['description'] = r.description
  if (atLeast(o.mv, '2.26')) out['tags'] = [...(r.tags ?? [])]
  // 2.63: no image signature verification here, so never any trusted certificate.
  if (atLeast(o.mv, '2.63')) out['trusted_image_certificates'] = null
  if (atLeast(o.mv, '2.71') && o.serverGroups !== undefined) out['server_groups'] = [...o.serverGroups]
  if (atLeast(o.mv, '2.73')) out['locked_reason'] = r.locked ? r.lockedReason : null
  if (atLeast(o.mv, '2.90')) out['OS-EXT-SRV-ATTR:hostname'] = r.hostname
  // From 2.75 update and rebuild answer the same representation as a show.
  if (o.basic === true && !atLeast(o.mv, '2.75')) {
    for (const k of EXTENDED_KEYS) delete out[k]
    for (const k of Object.keys(out)) if (k.startsWith('OS-EXT-SRV-ATTR:')) delete out[k]
    out['addresses'] = basicAddresses(o.addresses ?? {})
  }
  return out
}
