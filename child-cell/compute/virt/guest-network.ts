import type { NetworkInfo, PortInfo, SecurityRuleInfo } from '../../../shared/network/network-info.js'
import { InvalidError } from '../../../shared/errors.js'

/**
 * What every driver shares about a guest's interfaces: the names a port gets on the host (tap
 * device, packet filter, as Nova names them after the port id) and one driver-neutral reading of
 * a port's packet filter, which the libvirt driver renders as an nwfilter and the fake driver
 * records as it is. The build spec's bounds (shared/cell-link/network-info-schema.ts) were checked
 * where the build entered the cell; {@link validateNetworkInfo} re-checks only what would make a
 * definition ambiguous.
 */

/** One interface of a guest as the hypervisor holds it. */
export interface GuestInterface {
  /** The port it renders (null for an interface the driver did not make). */
  readonly portId: string | null
  readonly macAddress: string
  readonly bridge: string
  readonly mtu: number | null
  /** The host-side device (`tap<first 11 characters of the port id>`). */
  readonly device: string | null
  /** The packet filter the interface is bound to (`federation-<port id>`), null when none. */
  readonly filter: string | null
}

/** One rule of a port's packet filter, after Nova's libvirt firewall: accept or drop, in or out. */
export interface FilterRule {
  readonly action: 'accept' | 'drop'
  /** `in`: towards the guest (Neutron's ingress); `out`: from it (egress); `inout`: both. */
  readonly direction: 'in' | 'out' | 'inout'
  readonly ethertype: 'IPv4' | 'IPv6'
  /** `tcp`, `udp`, `icmp`, `icmpv6`, another protocol name or number, or `all`. */
  readonly protocol: string
  readonly portMin: number | null
  readonly portMax: number | null
  /** The other end's prefix (the source of ingress traffic, the destination of egress), null for any. */
  readonly remotePrefix: string | null
  /** Only packets of connections in these states (conntrack), null for any. */
  readonly state: string | null
  /** libvirt's priority: lower first. */
  readonly priority: number
}

/** The host-side device of a port (Nova's `tap` + the first 11 characters of the port id). */
export function tapNameOf(portId: string): string {
  return `tap${portId.slice(0, 11)}`
}

/** The packet filter of a port. */
export function filterNameOf(portId: string): string {
  return `federation-${portId}`
}

/** Protocol names Neutron accepts, by the number it also accepts for them. */
const PROTOCOL_BY_NUMBER: Readonly<Record<string, string>> = { '1': 'icmp', '6': 'tcp', '17': 'udp', '58': 'icmpv6', '132': 'sctp' }

/** A rule's protocol as the filter names it (`ipv6-icmp` and `icmp` on IPv6 are `icmpv6`). */
function protocolOf(r: SecurityRuleInfo): string {
  if (r.protocol === null || r.protocol === 'any') return 'all'
  const p = PROTOCOL_BY_NUMBER[r.protocol] ?? r.protocol.toLowerCase()
  if (r.ethertype === 'IPv6' && (p === 'icmp' || p === 'ipv6-icmp')) return 'icmpv6'
  return p
}

/** ICMPv6 types a guest receives regardless of its rules: MLD query/report/done, RA, NS, NA (Neutron's). */
const ICMPV6_IN = [130, 131, 132, 134, 135, 136] as const
/** ICMPv6 types a guest sends regardless of its rules: MLD report, RS, NS, NA, MLDv2 report. */
const ICMPV6_OUT = [131, 133, 135, 136, 143] as const

/**
 * The packet filter of a port with port security: connections already accepted pass both ways,
 * DHCP and IPv6 neighbour discovery pass, each security group rule accepts its traffic, and
 * everything else is dropped (Neutron's default drop). Anti-spoofing (the port's MAC and
 * addresses only) is the driver's part (libvirt: Nova's `no-*-spoofing` filters, libvirt-network-xml.ts).
 */
export function filterRulesOf(port: PortInfo): FilterRule[] {
  const rule = (r: Omit<FilterRule, 'portMin' | 'portMax' | 'remotePrefix' | 'state'> & Partial<FilterRule>): FilterRule => ({
    portMin: null,
    portMax: null,
    remotePrefix: null,
    state: null,
    ...r,
  })
  const rules: FilterRule[] = []
  for (const ethertype of ['IPv4', 'IPv6'] as const) {
    rules.push(rule({ action: 'accept', direction: 'inout', ethertype, protocol: 'all', state: 'ESTABLISHED,RELATED', priority: 100 }))
  }
  // DHCP both ways (the replies are broadcast, not tracked as a connection).
  rules.push(rule({ action: 'accept', direction: 'out', ethertype: 'IPv4', protocol: 'udp', portMin: 67, portMax: 67, priority: 200 }))
  rules.push(rule({ action: 'accept', direction: 'in', ethertype: 'IPv4', protocol: 'udp', portMin: 68, portMax: 68, priority: 200 }))
  rules.push(rule({ action: 'accept', direction: 'out', ethertype: 'IPv6', protocol: 'udp', portMin: 547, portMax: 547, priority: 200 }))
  rules.push(rule({ action: 'accept', direction: 'in', ethertype: 'IPv6', protocol: 'udp', portMin: 546, portMax: 546, priority: 200 }))
  // IPv6 needs neighbour discovery and router advertisements, which Neutron's firewall lets through.
  for (const type of ICMPV6_IN) rules.push(rule({ action: 'accept', direction: 'in', ethertype: 'IPv6', protocol: 'icmpv6', portMin: type, priority: 200 }))
  for (const type of ICMPV6_OUT) rules.push(rule({ action: 'accept', direction: 'out', ethertype: 'IPv6', protocol: 'icmpv6', portMin: type, priority: 200 }))
  for (const r of port.securityRules) {
    rules.push(
      rule({
        action: 'accept',
        direction: r.direction === 'ingress' ? 'in' : 'out',
        ethertype: r.ethertype,
        protocol: protocolOf(r),
        portMin: r.portRangeMin,
        portMax: r.portRangeMax,
        remotePrefix: r.remoteIpPrefix,
        priority: 300,
      }),
    )
  }
  for (const ethertype of ['IPv4', 'IPv6'] as const) rules.push(rule({ action: 'drop', direction: 'inout', ethertype, protocol: 'all', priority: 1000 }))
  return rules
}

/**
 * Refuses a network info no definition can hold: a port id or MAC twice (two interfaces could not
 * be told apart, nor detached one by one). Throws `InvalidError`.
 */
export function validateNetworkInfo(info: NetworkInfo | undefined): void {
  if (info === undefined) return
  if (!Array.isArray(info)) throw new InvalidError('networkInfo must be a list of ports')
  const ids = new Set(info.map((p) => String(p.portId).toLowerCase()))
  const macs = new Set(info.map((p) => String(p.macAddress).toLowerCase()))
  if (ids.size !== info.length || macs.size !== info.length) throw new InvalidError('networkInfo names a port or a MAC address twice')
}
