import { isIP } from 'node:net'
import type { PortInfo } from '../../../shared/network/network-info.js'
import type { FilterRule, GuestInterface } from './guest-network.js'
import { filterNameOf, filterRulesOf, tapNameOf } from './guest-network.js'
import { xmlEscape } from './libvirt-domain-xml.js'

/**
 * A guest's ports in libvirt's terms: one `<interface type='bridge'>` per port, an `nwfilter` per
 * port with port security (security group rules, default drop, anti-spoofing), and the record of
 * both in the domain's metadata (`<fed:port>`), so that a definition read back (a live migration,
 * an attach, a rescue) still says which port each interface renders and what its filter is. Every
 * value is escaped; the values were also checked for their formats where the build entered the
 * cell (shared/cell-link/network-info-schema.ts).
 */

/** Nova's libvirt firewall built on these; `clean-traffic` would also drop IPv6 (no-other-l2-traffic). */
const ANTI_SPOOFING = ['no-mac-spoofing', 'no-ip-spoofing', 'no-arp-spoofing'] as const

/** Protocols with a libvirt element of their own, IPv4 and (with `-ipv6`) IPv6. */
const BOTH_FAMILIES = new Set(['tcp', 'udp', 'sctp', 'udplite', 'esp', 'ah'])
/** Protocols whose rules match destination ports. */
const WITH_PORTS = new Set(['tcp', 'udp', 'sctp', 'udplite'])

/** The `<interface>` of a port (`filter`: bind it to the port's nwfilter, with its IPv4 addresses). */
export function interfaceXml(port: PortInfo): string {
  const params = port.fixedIps
    .filter((f) => isIP(f.ipAddress) === 4)
    .map((f) => `<parameter name='IP' value='${xmlEscape(f.ipAddress)}'/>`)
    .join('')
  const filter = port.portSecurityEnabled ? `<filterref filter='${xmlEscape(filterNameOf(port.portId))}'>${params}</filterref>` : ''
  return (
    `<interface type='bridge'><mac address='${xmlEscape(port.macAddress.toLowerCase())}'/><source bridge='${xmlEscape(port.bridge)}'/>` +
    `<target dev='${xmlEscape(tapNameOf(port.portId))}'/><model type='virtio'/>${filter}<mtu size='${Number(port.mtu)}'/></interface>`
  )
}

/** The `<fed:port>` metadata of a port: its id, MAC and (with port security) its nwfilter XML, escaped. */
export function portMetadataXml(port: PortInfo): string {
  const filter = port.portSecurityEnabled ? xmlEscape(nwfilterXml(port)) : ''
  return `<fed:port id='${xmlEscape(port.portId)}' mac='${xmlEscape(port.macAddress.toLowerCase())}'>${filter}</fed:port>`
}

/**
 * The nwfilter of a port with port security (`federation-<port id>`): the anti-spoofing filters
 * Nova's libvirt firewall used (the interface's MAC, its `IP` parameters), IPv6 sources limited to
 * the port's IPv6 addresses and link-local, then {@link filterRulesOf}.
 */
export function nwfilterXml(port: PortInfo): string {
  const parts = ANTI_SPOOFING.map((f) => `<filterref filter='${f}'/>`)
  const v6 = port.fixedIps.filter((f) => isIP(f.ipAddress) === 6).map((f) => f.ipAddress)
  for (const address of [...v6, 'fe80::/10']) {
    const [ip, mask] = address.split('/')
    parts.push(`<rule action='return' direction='out' priority='-620'><ipv6 srcipaddr='${xmlEscape(ip ?? '')}'${mask === undefined ? '' : ` srcipmask='${xmlEscape(mask)}'`}/></rule>`)
  }
  parts.push(`<rule action='drop' direction='out' priority='-610'><ipv6/></rule>`)
  for (const r of filterRulesOf(port)) parts.push(ruleXml(r))
  return `<filter name='${xmlEscape(filterNameOf(port.portId))}' chain='root'>${parts.join('')}</filter>`
}

/** One `<rule>` of an nwfilter. */
export function ruleXml(r: FilterRule): string {
  const v6 = r.ethertype === 'IPv6'
  const attrs: string[] = []
  let element: string
  if (r.protocol === 'all') element = v6 ? 'all-ipv6' : 'all'
  else if (BOTH_FAMILIES.has(r.protocol)) element = v6 ? `${r.protocol}-ipv6` : r.protocol
  else if (r.protocol === 'icmp' && !v6) element = 'icmp'
  else if (r.protocol === 'icmpv6' && v6) element = 'icmpv6'
  else if (r.protocol === 'igmp' && !v6) element = 'igmp'
  else {
    // Any other protocol: the ebtables layer's ip/ipv6 match on the protocol field.
    element = v6 ? 'ipv6' : 'ip'
    attrs.push(`protocol='${xmlEscape(r.protocol)}'`)
  }
  if (r.remotePrefix !== null) {
    const [ip, mask] = r.remotePrefix.split('/')
    // The other end: the source of what comes in, the destination of what goes out.
    const side = r.direction === 'out' ? 'dst' : 'src'
    attrs.push(`${side}ipaddr='${xmlEscape(ip ?? '')}'`, `${side}ipmask='${xmlEscape(mask ?? (v6 ? '128' : '32'))}'`)
  }
  if (WITH_PORTS.has(r.protocol)) {
    if (r.portMin !== null) attrs.push(`dstportstart='${Number(r.portMin)}'`)
    if (r.portMax !== null) attrs.push(`dstportend='${Number(r.portMax)}'`)
  } else if (r.protocol === 'icmp' || r.protocol === 'icmpv6') {
    // Neutron keeps the ICMP type in port_range_min and the code in port_range_max.
    if (r.portMin !== null) attrs.push(`type='${Number(r.portMin)}'`)
    if (r.portMax !== null) attrs.push(`code='${Number(r.portMax)}'`)
  }
  if (r.state !== null) attrs.push(`state='${xmlEscape(r.state)}'`)
  return `<rule action='${r.action}' direction='${r.direction}' priority='${Number(r.priority)}'><${element}${attrs.map((a) => ` ${a}`).join('')}/></rule>`
}

/** The bridge interfaces of a domain definition, with the ports its metadata says they render. */
export function interfacesOf(domainXml: string): GuestInterface[] {
  const ports = portsInMetadata(domainXml)
  const out: GuestInterface[] = []
  for (const m of domainXml.matchAll(/<interface\b[^>]*>([\s\S]*?)<\/interface>/g)) {
    const body = m[1] ?? ''
    const mac = attr(body, 'mac', 'address')
    if (mac === undefined) continue
    const mtu = attr(body, 'mtu', 'size')
    out.push({
      portId: ports.get(mac.toLowerCase())?.id ?? null,
      macAddress: mac.toLowerCase(),
      bridge: attr(body, 'source', 'bridge') ?? '',
      mtu: mtu === undefined ? null : Number(mtu),
      device: attr(body, 'target', 'dev') ?? null,
      filter: attr(body, 'filterref', 'filter') ?? null,
    })
  }
  return out
}

/** The ports recorded in a domain's metadata, by MAC: their id and nwfilter XML ('' for none). */
export function portsInMetadata(domainXml: string): Map<string, { readonly id: string; readonly filterXml: string }> {
  const out = new Map<string, { id: string; filterXml: string }>()
  for (const m of domainXml.matchAll(/<fed:port\b([^>]*?)(?:\/>|>([\s\S]*?)<\/fed:port>)/g)) {
    const id = attrIn(m[1] ?? '', 'id')
    const mac = attrIn(m[1] ?? '', 'mac')
    if (id !== undefined && mac !== undefined) out.set(mac.toLowerCase(), { id, filterXml: xmlUnescape(m[2] ?? '') })
  }
  return out
}

/**
 * A definition with one more port: its interface at the end of the devices, its record in the
 * metadata. A definition without our metadata gets none (the interface is still added).
 */
export function withInterface(domainXml: string, port: PortInfo): string {
  const xml = domainXml.replace(/<\/devices>/, `${interfaceXml(port)}</devices>`)
  return xml.replace(/<\/fed:instance>/, `${portMetadataXml(port)}</fed:instance>`)
}

/** A definition without the interface of the MAC `mac` and its port's record. */
export function withoutInterface(domainXml: string, mac: string): string {
  const wanted = mac.toLowerCase()
  let xml = domainXml.replace(/<interface\b[^>]*>([\s\S]*?)<\/interface>\s*/g, (whole, body: string) => (attr(body, 'mac', 'address')?.toLowerCase() === wanted ? '' : whole))
  xml = xml.replace(/<fed:port\b([^>]*?)(?:\/>|>[\s\S]*?<\/fed:port>)\s*/g, (whole, head: string) => (attrIn(head, 'mac')?.toLowerCase() === wanted ? '' : whole))
  return xml
}

/** An attribute of the first `<element>` in `xml`, entities undone. */
function attr(xml: string, element: string, name: string): string | undefined {
  for (const m of xml.matchAll(/<([A-Za-z_][\w:.-]*)\b([^>]*?)\/?>/g)) {
    if (m[1] === element) return attrIn(m[2] ?? '', name)
  }
  return undefined
}

function attrIn(tag: string, name: string): string | undefined {
  for (const m of tag.matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")/g)) {
    if (m[1] === name) return xmlUnescape(m[2] ?? m[3] ?? '')
  }
  return undefined
}

/** Undoes {@link xmlEscape} and the entities libvirt writes. */
export function xmlUnescape(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCharCode(Number.parseInt(n, 16)))
    .replace(/&apos;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}
