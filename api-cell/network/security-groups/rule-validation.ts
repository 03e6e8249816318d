import type { RuleDirection } from '../../../shared/network/network-info.js'
import { RULE_DIRECTIONS } from '../../../shared/network/network-info.js'
import { isUuid } from '../../../shared/uuid.js'
import { badRequest } from './neutron-faults.js'
import { parsePrefix, formatPrefix } from './ip-prefix.js'

/**
 * A security group rule body checked and normalised the way Neutron's API layer and
 * `securitygroups_db` do it, before anything is stored: protocol names lower-cased and numbers
 * kept as strings, ports and ICMP type/code checked per protocol, `remote_ip_prefix` normalised
 * (`10.0.0.5/24` -> `10.0.0.0/24`) and matched against the ethertype. Pure: no database.
 */

/** Ethertypes as Neutron spells them. */
export const ETHERTYPES = ['IPv4', 'IPv6'] as const
/** One of {@link ETHERTYPES}. */
export type Ethertype = (typeof ETHERTYPES)[number]

/** Protocol names Neutron accepts, with their IANA numbers (`icmpv6` is Neutron's legacy alias). */
export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = Object.freeze({
  ah: 51,
  dccp: 33,
  egp: 8,
  esp: 50,
  gre: 47,
  hopopt: 0,
  icmp: 1,
  icmpv6: 58,
  igmp: 2,
  ipip: 4,
  'ipv6-encap': 41,
  'ipv6-frag': 44,
  'ipv6-icmp': 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  'ipv6-route': 43,
  ospf: 89,
  pgm: 113,
  rsvp: 46,
  sctp: 132,
  tcp: 6,
  udp: 17,
  udplite: 136,
  vrrp: 112,
})

/** Protocols with ports (tcp, udp, dccp, sctp, udplite): a range must be complete and ordered. */
const PORT_PROTOCOLS: ReadonlySet<number> = new Set([6, 17, 33, 132, 136])
/** icmp and ipv6-icmp: port_range_min/max are the ICMP type and code. */
const ICMP_PROTOCOLS: ReadonlySet<number> = new Set([1, 58])

/** A rule as it is stored (before the group is looked up). */
export interface NormalizedRule {
  readonly securityGroupId: string
  readonly direction: RuleDirection
  readonly ethertype: Ethertype
  /** A lower-case name, a number 0-255 as a string, or null for any. */
  readonly protocol: string | null
  readonly portRangeMin: number | null
  readonly portRangeMax: number | null
  readonly remoteIpPrefix: string | null
  readonly remoteGroupId: string | null
  readonly description: string
  /** Asked for in the body (admins only may name another project than their own). */
  readonly projectId?: string
}

const ALLOWED = new Set([
  'security_group_id',
  'direction',
  'ethertype',
  'protocol',
  'port_range_min',
  'port_range_max',
  'remote_ip_prefix',
  'remote_group_id',
  'remote_address_group_id',
  'description',
  'project_id',
  'tenant_id',
])

/** The protocol's number, for a name or a numeric string; undefined for null (any). */
export function protocolNumber(protocol: string | null): number | undefined {
  if (protocol === null) return undefined
  return PROTOCOL_NUMBERS[protocol] ?? Number(protocol)
}

/**
 * Checks one `security_group_rule` object of a create request; throws Neutron's 400 (type and
 * wording as Neutron's) for the first thing wrong.
 */
export function validateRule(body: unknown): NormalizedRule {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('Resource body required')
  const b = body as Record<string, unknown>
  const unknown = Object.keys(b).filter((k) => !ALLOWED.has(k))
  if (unknown.length > 0) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`)
  const securityGroupId = b['security_group_id']
  if (securityGroupId === undefined) throw badRequest("Failed to parse request. Required attribute 'security_group_id' not specified")
  if (typeof securityGroupId !== 'string' || !isUuid(securityGroupId)) {
    throw badRequest(`Invalid input for security_group_id. Reason: '${String(securityGroupId)}' is not a valid UUID.`)
  }
  const direction = b['direction']
  if (direction === undefined) throw badRequest("Failed to parse request. Required attribute 'direction' not specified")
  if (typeof direction !== 'string' || !(RULE_DIRECTIONS as readonly string[]).includes(direction)) {
    throw badRequest(`Invalid input for direction. Reason: '${String(direction)}' is not in ['ingress', 'egress'].`)
  }
  const ethertype = toEthertype(b['ethertype'])
  const protocol = toProtocol(b['protocol'])
  const portRangeMin = toPort(b['port_range_min'])
  const portRangeMax = toPort(b['port_range_max'])
  checkPortRange(protocol, portRangeMin, portRangeMax)
  const number = protocolNumber(protocol)
  if (number === 58 && ethertype === 'IPv4') {
    throw badRequest(`Invalid ethertype ${ethertype} for protocol ${String(protocol)}.`, 'SecurityGroupEthertypeConflictWithProtocol')
  }
  const remoteGroupId = optionalUuid(b['remote_group_id'], 'remote_group_id')
  if (b['remote_address_group_id'] !== undefined && b['remote_address_group_id'] !== null) {
    throw badRequest('Address groups are not supported by this cloud.')
  }
  let remoteIpPrefix: string | null = null
  const rawPrefix = b['remote_ip_prefix']
  if (rawPrefix !== undefined && rawPrefix !== null) {
    const parsed = typeof rawPrefix === 'string' ? parsePrefix(rawPrefix) : undefined
    if (parsed === undefined) throw badRequest(`Invalid input for operation: '${String(rawPrefix)}' is not a valid IP subnet.`, 'InvalidInput')
    if ((parsed.version === 4) !== (ethertype === 'IPv4')) {
      throw badRequest(`Conflicting value ethertype ${ethertype} for CIDR ${String(rawPrefix)}`, 'SecurityGroupRuleParameterConflict')
    }
    remoteIpPrefix = formatPrefix(parsed)
  }
  if (remoteIpPrefix !== null && remoteGroupId !== null) {
    throw badRequest('Only remote_ip_prefix or remote_group_id may be provided.', 'SecurityGroupRemoteGroupAndRemoteIpPrefix')
  }
  const description = b['description'] ?? ''
  if (typeof description !== 'string' || description.length > 255) {
    throw badRequest(`Invalid input for description. Reason: '${String(description).slice(0, 300)}' is not a valid string or exceeds 255 characters.`)
  }
  const projectId = ownerOf(b)
  return {
    securityGroupId,
    direction: direction as RuleDirection,
    ethertype,
    protocol,
    portRangeMin,
    portRangeMax,
    remoteIpPrefix,
    remoteGroupId,
    description,
    ...(projectId === undefined ? {} : { projectId }),
  }
}

/**
 * What makes two rules of a group the same, as Neutron's duplicate check compares them: protocol
 * names and numbers alike (`tcp` = `6`), an any-address prefix (`0.0.0.0/0`, `::/0`) the same as none,
 * the description ignored.
 */
export function ruleFingerprint(r: Omit<NormalizedRule, 'description' | 'projectId'>): string {
  const proto = protocolNumber(r.protocol)
  const anyPrefix = r.remoteIpPrefix === '0.0.0.0/0' || r.remoteIpPrefix === '::/0'
  const prefix = r.remoteIpPrefix === null || anyPrefix ? '' : r.remoteIpPrefix
  return [r.securityGroupId, r.direction, r.ethertype, proto ?? '', r.portRangeMin ?? '', r.portRangeMax ?? '', prefix, r.remoteGroupId ?? ''].join('|')
}

/** The `project_id`/`tenant_id` of a body (both given must agree), or undefined. */
export function ownerOf(b: Record<string, unknown>): string | undefined {
  const p = b['project_id']
  const t = b['tenant_id']
  for (const v of [p, t]) {
    if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.length > 255)) throw badRequest(`Invalid input for project_id. Reason: '${String(v)}' is not a valid string.`)
  }
  if (typeof p === 'string' && typeof t === 'string' && p !== t) throw badRequest('Both project_id and tenant_id are specified and they are not equal.')
  return (p ?? t) as string | undefined
}

function optionalUuid(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null
  if (typeof v !== 'string' || !isUuid(v)) throw badRequest(`Invalid input for ${field}. Reason: '${String(v)}' is not a valid UUID.`)
  return v.toLowerCase()
}

function toEthertype(v: unknown): Ethertype {
  if (v === undefined || v === null) return 'IPv4'
  const found = typeof v === 'string' ? ETHERTYPES.find((e) => e.toLowerCase() === v.toLowerCase()) : undefined
  if (found === undefined) {
    throw badRequest(`Security group rule for ethertype '${String(v)}' not supported. Allowed values are ['IPv4', 'IPv6'].`, 'SecurityGroupRuleInvalidEtherType')
  }
  return found
}

function toProtocol(v: unknown): string | null {
  if (v === undefined || v === null || v === 'any') return null
  const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : undefined
  if (text !== undefined && text !== '' && [...text].every((c) => c >= '0' && c <= '9') && text.length <= 3) {
    const n = Number(text)
    if (n <= 255) return String(n)
  }
  if (typeof v === 'string' && PROTOCOL_NUMBERS[v.toLowerCase()] !== undefined) return v.toLowerCase()
  const names = Object.keys(PROTOCOL_NUMBERS).sort()
  throw badRequest(
    `Security group rule protocol ${String(v)} not supported. Only protocol values [None, ${names.map((n) => `'${n}'`).join(', ')}] and integer representations [0 to 255] are supported.`,
    'SecurityGroupRuleInvalidProtocol',
  )
}

function toPort(v: unknown): number | null {
  if (v === undefined || v === null) return null
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw badRequest(`Invalid value for port ${String(v)}`, 'SecurityGroupInvalidPortValue')
  return n
}

/** Neutron's `_validate_port_range`. */
function checkPortRange(protocol: string | null, min: number | null, max: number | null): void {
  if (min === null && max === null) return
  if (protocol === null) throw badRequest('Must also specify protocol if port range is given.', 'SecurityGroupProtocolRequiredWithPorts')
  const number = protocolNumber(protocol) ?? -1
  if (PORT_PROTOCOLS.has(number)) {
    if (min === 0 || max === 0) throw badRequest('Invalid value for port 0', 'SecurityGroupInvalidPortValue')
    if (min !== null && max !== null && min <= max) return
    throw badRequest('For TCP/UDP protocols, port_range_min must be <= port_range_max', 'SecurityGroupInvalidPortRange')
  }
  if (ICMP_PROTOCOLS.has(number)) {
    for (const [value, attr, field] of [
      [min, 'port_range_min', 'type'],
      [max, 'port_range_max', 'code'],
    ] as const) {
      if (value !== null && value > 255) {
        throw badRequest(`Invalid value for ICMP ${field} (${attr}) ${value}. It must be 0 to 255.`, 'SecurityGroupInvalidIcmpValue')
      }
    }
    if (min === null && max !== null) {
      throw badRequest(`ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing.`, 'SecurityGroupMissingIcmpType')
    }
    return
  }
  if (min !== null && max !== null && min !== max) {
    throw badRequest(`Invalid protocol ${protocol} for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP`, 'SecurityGroupInvalidProtocolForPortRange')
  }
}
