/**
 * The build protocol on the wire: {@link BuildSpec} <-> the typed `BuildSpec` message of
 * proto/cell.proto, and the receiver's check of a `BuildRequest`. This is the only place that
 * knows both shapes.
 *
 * Adding a field to the build spec (e.g. `tags`):
 *  1. the domain type: `BuildSpec` in build-spec.ts (optional if older specs lack it);
 *  2. the message: a new field in `message BuildSpec` of proto/cell.proto, with the next free
 *     number (never reuse one), `optional` when absence means something, snake_case;
 *  3. here: the field in {@link PbBuildSpec}, then one line in {@link buildSpecToPb} and one in
 *     {@link buildSpecFromPb} (keep the order of the proto file);
 *  4. its bounds: `buildSpecSchema` in build-spec-schema.ts (the receiver refuses what breaks them);
 *  5. a value in the fully populated spec of test/unit/shared/cell-link/build-mapping.test.ts and
 *     in its fast-check arbitrary: that test fails while a proto field is not mapped both ways.
 *
 * Versions: a field an older cell may ignore (it builds the instance correctly without it) needs
 * no new version: protobuf drops fields a receiver does not know. A field an older cell must not
 * ignore (it changes what the build means), or a change of meaning of an existing field, bumps
 * {@link BUILD_PROTOCOL_VERSION}; {@link OLDEST_BUILD_PROTOCOL_VERSION} says down to which version
 * a receiver still understands builds.
 */
import { InvalidError } from '../errors.js'
import type { FixedIpInfo, PortInfo, SecurityRuleInfo } from '../network/network-info.js'
import type { BuildGroup, BuildSpec } from './build-spec.js'
import { checkBuildSpec } from './build-spec-schema.js'
import type { PbContext } from './proto.js'
import type { BuildCall } from './types.js'

/** The build protocol a cell speaks (1 was the JSON-in-a-string form). */
export const BUILD_PROTOCOL_VERSION = 2
/** The oldest build protocol a cell still accepts. */
export const OLDEST_BUILD_PROTOCOL_VERSION = 2

/** `google.protobuf.Value` as proto-loader gives it (`oneofs: true` sets `kind`). */
export interface PbValue {
  kind?: 'nullValue' | 'numberValue' | 'stringValue' | 'boolValue' | 'structValue' | 'listValue'
  nullValue?: 'NULL_VALUE' | number
  numberValue?: number
  stringValue?: string
  boolValue?: boolean
  structValue?: PbStruct
  listValue?: { values: PbValue[] }
}
/** `google.protobuf.Struct`. */
export interface PbStruct {
  fields: Record<string, PbValue>
}

/** The group policies of the wire enum, by domain name. */
const GROUP_POLICIES = {
  affinity: 'GROUP_POLICY_AFFINITY',
  'anti-affinity': 'GROUP_POLICY_ANTI_AFFINITY',
  'soft-affinity': 'GROUP_POLICY_SOFT_AFFINITY',
  'soft-anti-affinity': 'GROUP_POLICY_SOFT_ANTI_AFFINITY',
} as const satisfies Record<BuildGroup['policy'], string>
type PbGroupPolicy = (typeof GROUP_POLICIES)[keyof typeof GROUP_POLICIES] | 'GROUP_POLICY_UNSPECIFIED'

/** `message BuildSpec` (snake_case, as proto-loader gives it with keepCase; unset optionals absent). */
export interface PbBuildSpec {
  instance_uuid: string
  name: string
  hostname: string
  project_id: string
  user_id: string
  flavor: PbFlavorSnapshot | null
  image: PbImageRef | null
  availability_zone?: string
  metadata: Record<string, string>
  key_name?: string
  key_data?: string
  user_data?: string
  description?: string
  reservation_id: string
  launch_index: number
  scheduler_hints: PbStruct | null
  group?: PbServerGroupRef
  min_count?: number
  retry?: PbBuildRetry
  access_ip_v4?: string
  access_ip_v6?: string
  created_at_ms: number
  aggregates: Array<{ hosts: string[]; metadata: Record<string, string> }>
  tags: string[]
  requested_host?: string
  unshelve_image_ref?: string
  network_info: PbPortInfo[]
  config_drive?: boolean
}
/** `message PortInfo`. */
export interface PbPortInfo {
  port_id: string
  network_id: string
  network_name: string
  mac_address: string
  mtu: number
  bridge: string
  fixed_ips: PbFixedIpInfo[]
  port_security_enabled: boolean
  security_rules: PbSecurityRuleInfo[]
}
/** `message FixedIpInfo`. */
export interface PbFixedIpInfo {
  subnet_id: string
  ip_address: string
  version: number
  cidr: string
  gateway_ip?: string
  dns_nameservers: string[]
  host_routes: Array<{ destination: string; nexthop: string }>
}
/** `message SecurityRuleInfo`. */
export interface PbSecurityRuleInfo {
  direction: string
  ethertype: string
  protocol?: string
  port_range_min?: number
  port_range_max?: number
  remote_ip_prefix?: string
}
export interface PbFlavorSnapshot {
  id: string
  name: string
  memory_mb: number
  vcpus: number
  root_gb: number
  ephemeral_gb: number
  swap_mb: number
  extra_specs: Record<string, string>
}
export interface PbImageRef {
  id: string
  name: string
  properties: Record<string, string>
  download_url?: string
  checksum?: string
  disk_format?: string
}
export interface PbServerGroupRef {
  uuid: string
  policy: PbGroupPolicy | number
  max_server_per_host?: number
  members: Array<{ host: string; cell_path: string }>
}
export interface PbBuildRetry {
  attempt: number
  tried_cells: string[]
  faults: string[]
  version_base: number
}
/** `message BuildRequest`. */
export interface PbBuildRequest {
  ctx: PbContext | null
  instance_uuid: string
  tried_cells: string[]
  protocol_version: number
  spec: PbBuildSpec | null
}

/** A repeated field as an optional domain field: `undefined` when absent or empty. */
function nonEmpty<T>(a: readonly T[] | null | undefined): readonly T[] | undefined {
  return a === null || a === undefined || a.length === 0 ? undefined : a
}

/** `undefined` and `null` both become an unset optional field. */
function opt<K extends string, V>(key: K, value: V | null | undefined): { [P in K]?: V } {
  return (value === null || value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

/** Domain -> wire. */
export function buildSpecToPb(s: BuildSpec): PbBuildSpec {
  return {
    instance_uuid: s.instanceUuid,
    name: s.name,
    hostname: s.hostname,
    project_id: s.projectId,
    user_id: s.userId,
    flavor: {
      id: s.flavor.id,
      name: s.flavor.name,
      memory_mb: s.flavor.memoryMb,
      vcpus: s.flavor.vcpus,
      root_gb: s.flavor.rootGb,
      ephemeral_gb: s.flavor.ephemeralGb,
      swap_mb: s.flavor.swapMb,
      extra_specs: { ...s.flavor.extraSpecs },
    },
    image: {
      id: s.image.id,
      name: s.image.name,
      properties: { ...s.image.properties },
      ...opt('download_url', s.image.downloadUrl),
      ...opt('checksum', s.image.checksum),
      ...opt('disk_format', s.image.diskFormat),
    },
    ...opt('availability_zone', s.availabilityZone),
    metadata: { ...s.metadata },
    ...opt('key_name', s.keyName),
    ...opt('key_data', s.keyData),
    ...opt('user_data', s.userData),
    ...opt('description', s.description),
    reservation_id: s.reservationId,
    launch_index: s.launchIndex,
    scheduler_hints: structToPb(s.schedulerHints),
    ...opt(
      'group',
      s.group && {
        uuid: s.group.uuid,
        policy: GROUP_POLICIES[s.group.policy],
        ...opt('max_server_per_host', s.group.maxServerPerHost),
        members: s.group.members.map((m) => ({ host: m.host, cell_path: m.cellPath })),
      },
    ),
    ...opt('min_count', s.minCount),
    ...opt(
      'retry',
      s.retry && { attempt: s.retry.attempt, tried_cells: [...s.retry.triedCells], faults: [...s.retry.faults], version_base: s.retry.versionBase },
    ),
    ...opt('access_ip_v4', s.accessIpV4),
    ...opt('access_ip_v6', s.accessIpV6),
    created_at_ms: s.createdAt,
    aggregates: (s.aggregates ?? []).map((a) => ({ hosts: [...a.hosts], metadata: { ...a.metadata } })),
    tags: [...(s.tags ?? [])],
    ...opt('requested_host', s.requestedHost),
    ...opt('unshelve_image_ref', s.unshelveImageRef),
    network_info: (s.networkInfo ?? []).map(portToPb),
    ...opt('config_drive', s.configDrive),
  }
}

/**
 * Wire -> domain. Throws {@link InvalidError} for a message lacking a part a build cannot do
 * without (flavor, image) or carrying a value the wire enum does not know; bounds are checked
 * after, on the domain shape (build-spec-schema.ts).
 */
export function buildSpecFromPb(p: PbBuildSpec): BuildSpec {
  if (p.flavor === null || p.flavor === undefined) throw new InvalidError('malformed build spec: flavor is missing')
  if (p.image === null || p.image === undefined) throw new InvalidError('malformed build spec: image is missing')
  const f = p.flavor
  const i = p.image
  return {
    instanceUuid: p.instance_uuid,
    name: p.name,
    hostname: p.hostname,
    projectId: p.project_id,
    userId: p.user_id,
    flavor: {
      id: f.id,
      name: f.name,
      memoryMb: f.memory_mb,
      vcpus: f.vcpus,
      rootGb: f.root_gb,
      ephemeralGb: f.ephemeral_gb,
      swapMb: f.swap_mb,
      extraSpecs: { ...f.extra_specs },
    },
    image: {
      id: i.id,
      name: i.name,
      properties: { ...i.properties },
      ...opt('downloadUrl', i.download_url),
      ...opt('checksum', i.checksum),
      ...opt('diskFormat', i.disk_format),
    },
    availabilityZone: p.availability_zone ?? null,
    metadata: { ...p.metadata },
    keyName: p.key_name ?? null,
    keyData: p.key_data ?? null,
    userData: p.user_data ?? null,
    description: p.description ?? null,
    reservationId: p.reservation_id,
    launchIndex: p.launch_index,
    schedulerHints: p.scheduler_hints === null || p.scheduler_hints === undefined ? {} : structFromPb(p.scheduler_hints, 0),
    ...opt('group', p.group && groupFromPb(p.group)),
    ...opt('minCount', p.min_count),
    ...opt(
      'retry',
      p.retry && { attempt: p.retry.attempt, triedCells: [...p.retry.tried_cells], faults: [...p.retry.faults], versionBase: p.retry.version_base },
    ),
    ...opt('accessIpV4', p.access_ip_v4),
    ...opt('accessIpV6', p.access_ip_v6),
    createdAt: p.created_at_ms,
    // Repeated fields have no presence on the wire: empty is "none", as absent is in the domain.
    ...opt('aggregates', nonEmpty(p.aggregates)?.map((a) => ({ hosts: [...a.hosts], metadata: { ...a.metadata } }))),
    ...opt('tags', nonEmpty(p.tags)?.slice()),
    ...opt('requestedHost', p.requested_host),
    ...opt('unshelveImageRef', p.unshelve_image_ref),
    ...opt('networkInfo', nonEmpty(p.network_info)?.map(portFromPb)),
    ...opt('configDrive', p.config_drive),
  }
}

function portToPb(p: PortInfo): PbPortInfo {
  return {
    port_id: p.portId,
    network_id: p.networkId,
    network_name: p.networkName,
    mac_address: p.macAddress,
    mtu: p.mtu,
    bridge: p.bridge,
    fixed_ips: p.fixedIps.map((f) => ({
      subnet_id: f.subnetId,
      ip_address: f.ipAddress,
      version: f.version,
      cidr: f.cidr,
      ...opt('gateway_ip', f.gatewayIp),
      dns_nameservers: [...f.dnsNameservers],
      host_routes: f.hostRoutes.map((r) => ({ destination: r.destination, nexthop: r.nexthop })),
    })),
    port_security_enabled: p.portSecurityEnabled,
    security_rules: p.securityRules.map((r) => ({
      direction: r.direction,
      ethertype: r.ethertype,
      ...opt('protocol', r.protocol),
      ...opt('port_range_min', r.portRangeMin),
      ...opt('port_range_max', r.portRangeMax),
      ...opt('remote_ip_prefix', r.remoteIpPrefix),
    })),
  }
}

/**
 * Wire -> domain for one port. Enumerated strings (direction, ethertype, IP version) are passed
 * through as they came: build-spec-schema.ts refuses values outside their sets.
 */
function portFromPb(p: PbPortInfo): PortInfo {
  return {
    portId: p.port_id,
    networkId: p.network_id,
    networkName: p.network_name,
    macAddress: p.mac_address,
    mtu: p.mtu,
    bridge: p.bridge,
    fixedIps: (p.fixed_ips ?? []).map(
      (f): FixedIpInfo => ({
        subnetId: f.subnet_id,
        ipAddress: f.ip_address,
        version: f.version as FixedIpInfo['version'],
        cidr: f.cidr,
        ...opt('gatewayIp', f.gateway_ip),
        dnsNameservers: [...(f.dns_nameservers ?? [])],
        hostRoutes: (f.host_routes ?? []).map((r) => ({ destination: r.destination, nexthop: r.nexthop })),
      }),
    ),
    portSecurityEnabled: p.port_security_enabled,
    securityRules: (p.security_rules ?? []).map(
      (r): SecurityRuleInfo => ({
        direction: r.direction as SecurityRuleInfo['direction'],
        ethertype: r.ethertype as SecurityRuleInfo['ethertype'],
        protocol: r.protocol ?? null,
        portRangeMin: r.port_range_min ?? null,
        portRangeMax: r.port_range_max ?? null,
        remoteIpPrefix: r.remote_ip_prefix ?? null,
      }),
    ),
  }
}

function groupFromPb(g: PbServerGroupRef): BuildGroup {
  const policy = (Object.keys(GROUP_POLICIES) as Array<BuildGroup['policy']>).find((k) => GROUP_POLICIES[k] === g.policy)
  if (policy === undefined) throw new InvalidError(`malformed build spec: group policy ${String(g.policy)} is not known here`)
  return {
    uuid: g.uuid,
    policy,
    ...opt('maxServerPerHost', g.max_server_per_host),
    members: g.members.map((m) => ({ host: m.host, cellPath: m.cell_path })),
  }
}

/** What the sender puts on the wire for one build. */
export function buildRequestToPb(ctx: PbContext, call: BuildCall): PbBuildRequest {
  return {
    ctx,
    instance_uuid: call.instanceUuid,
    tried_cells: [...call.triedCells],
    protocol_version: BUILD_PROTOCOL_VERSION,
    spec: buildSpecToPb(call.spec),
  }
}

/**
 * The receiver's check of a build, before anything of it is used: the protocol version first (a
 * version this cell does not speak is refused, definitely: nothing is kept, so the sender may try
 * elsewhere), then the spec's parts, its bounds, and that it names the instance of the call.
 * Throws {@link InvalidError}.
 */
export function buildCallFromPb(req: PbBuildRequest): BuildCall {
  const version = Number(req.protocol_version)
  if (!(version >= OLDEST_BUILD_PROTOCOL_VERSION && version <= BUILD_PROTOCOL_VERSION)) {
    throw new InvalidError(
      `build protocol version ${version} is not supported here (this cell speaks versions ${OLDEST_BUILD_PROTOCOL_VERSION} to ${BUILD_PROTOCOL_VERSION})`,
    )
  }
  if (req.spec === null || req.spec === undefined) throw new InvalidError('malformed build request: the spec is missing')
  const spec = checkBuildSpec({ instanceUuid: String(req.instance_uuid), spec: buildSpecFromPb(req.spec) })
  return { instanceUuid: spec.instanceUuid, spec, triedCells: (req.tried_cells ?? []).filter((c): c is string => typeof c === 'string') }
}

/** How deep scheduler hints may nest (Nova's are flat; a deeper one is refused, not recursed into). */
const MAX_HINT_DEPTH = 32

/** Free-form JSON (scheduler hints) -> `google.protobuf.Struct`. */
export function structToPb(o: Readonly<Record<string, unknown>>): PbStruct {
  return { fields: Object.fromEntries(Object.entries(o).flatMap(([k, v]) => (v === undefined ? [] : [[k, valueToPb(v)]]))) }
}

function valueToPb(v: unknown): PbValue {
  if (v === null) return { nullValue: 'NULL_VALUE' }
  if (typeof v === 'number') return { numberValue: v }
  if (typeof v === 'string') return { stringValue: v }
  if (typeof v === 'boolean') return { boolValue: v }
  if (Array.isArray(v)) return { listValue: { values: v.map((x) => (x === undefined ? { nullValue: 'NULL_VALUE' } : valueToPb(x))) } }
  if (typeof v === 'object') return { structValue: structToPb(v as Record<string, unknown>) }
  throw new InvalidError(`scheduler hint value of type ${typeof v} cannot be sent`)
}

function structFromPb(s: PbStruct, depth: number): Record<string, unknown> {
  if (depth > MAX_HINT_DEPTH) throw new InvalidError(`malformed build spec: scheduler hints nest deeper than ${MAX_HINT_DEPTH}`)
  // fromEntries defines own properties: a hint named `__proto__` stays a hint.
  return Object.fromEntries(Object.entries(s.fields ?? {}).map(([k, v]) => [k, valueFromPb(v, depth + 1)]))
}

const VALUE_KINDS = ['nullValue', 'numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue'] as const

function valueFromPb(v: PbValue, depth: number): unknown {
  // The decoder names the set member in `kind`; a value built in memory only has the member.
  switch (v.kind ?? VALUE_KINDS.find((k) => v[k] !== undefined)) {
    case 'numberValue':
      return v.numberValue
    case 'stringValue':
      return v.stringValue
    case 'boolValue':
      return v.boolValue
    case 'structValue':
      return structFromPb(v.structValue ?? { fields: {} }, depth)
    case 'listValue':
      if (depth > MAX_HINT_DEPTH) throw new InvalidError(`malformed build spec: scheduler hints nest deeper than ${MAX_HINT_DEPTH}`)
      return (v.listValue?.values ?? []).map((x) => valueFromPb(x, depth + 1))
    default:
      return null
  }
}
