import type { FixedIpInfo, NetworkInfo, PortInfo } from '../network/network-info.js'

/**
 * `network_data.json`: a server's interfaces as the guest configures them (cloud-init's
 * `ConfigDrive`/`OpenStack` sources read it), rendered from {@link NetworkInfo} as Nova's
 * `nova.virt.netutils.get_network_metadata` renders its VIFs: one `phy` link per port with an
 * address, one static `ipv4`/`ipv6` network per first subnet of each version (default route via
 * the gateway, then the subnet's host routes), and the DNS servers once each as services.
 */
export interface NetworkData {
  readonly links: readonly NetworkDataLink[]
  readonly networks: readonly NetworkDataNetwork[]
  readonly services: readonly NetworkDataService[]
}

/** One interface (`links[]`). */
export interface NetworkDataLink {
  readonly id: string
  readonly vif_id: string
  readonly type: 'phy'
  readonly mtu: number
  readonly ethernet_mac_address: string
}

/** One address of an interface (`networks[]`). */
export interface NetworkDataNetwork {
  readonly id: string
  readonly type: 'ipv4' | 'ipv6'
  readonly link: string
  readonly ip_address: string
  readonly netmask: string
  readonly routes: readonly NetworkDataRoute[]
  readonly network_id: string
  readonly services: readonly NetworkDataService[]
}

/** A route of a network (`0.0.0.0`/`::` for the default route). */
export interface NetworkDataRoute {
  readonly network: string
  readonly netmask: string
  readonly gateway: string
}

/** A DNS server. */
export interface NetworkDataService {
  readonly type: 'dns'
  readonly address: string
}

/**
 * Renders `network_data.json` (an empty object when the server has no interface, as Nova answers
 * `{}` for an instance without network info).
 */
export function networkDataOf(info: NetworkInfo | undefined): NetworkData | Record<string, never> {
  if (info === undefined || info.length === 0) return {}
  const links: NetworkDataLink[] = []
  const networks: NetworkDataNetwork[] = []
  const services: NetworkDataService[] = []
  let netNum = -1
  for (const port of info) {
    const v4 = port.fixedIps.find((ip) => ip.version === 4)
    const v6 = port.fixedIps.find((ip) => ip.version === 6)
    if (v4 === undefined && v6 === undefined) continue
    const link = linkOf(port)
    links.push(link)
    for (const ip of [v4, v6]) {
      if (ip === undefined) continue
      netNum += 1
      const net = networkOf(port, ip, netNum, link.id)
      networks.push(net)
      for (const dns of net.services) if (!services.some((s) => s.address === dns.address)) services.push(dns)
    }
  }
  return { links, networks, services }
}

/** Nova names a Neutron VIF's device `tap` + the first 11 characters of the port id. */
function linkOf(port: PortInfo): NetworkDataLink {
  return { id: `tap${port.portId.slice(0, 11)}`, vif_id: port.portId, type: 'phy', mtu: port.mtu, ethernet_mac_address: port.macAddress }
}

function networkOf(port: PortInfo, ip: FixedIpInfo, netNum: number, linkId: string): NetworkDataNetwork {
  const prefix = prefixOf(ip.cidr)
  const any = ip.version === 4 ? '0.0.0.0' : '::'
  const routes: NetworkDataRoute[] = ip.gatewayIp === undefined ? [] : [{ network: any, netmask: any, gateway: ip.gatewayIp }]
  for (const r of ip.hostRoutes) {
    const [network = '', len] = r.destination.split('/')
    routes.push({ network, netmask: netmaskOf(ip.version, len === undefined ? (ip.version === 4 ? 32 : 128) : Number(len)), gateway: r.nexthop })
  }
  return {
    id: `network${netNum}`,
    type: ip.version === 4 ? 'ipv4' : 'ipv6',
    link: linkId,
    ip_address: ip.ipAddress,
    netmask: netmaskOf(ip.version, prefix),
    routes,
    network_id: port.networkId,
    services: ip.dnsNameservers.map((address) => ({ type: 'dns' as const, address })),
  }
}

function prefixOf(cidr: string): number {
  const len = Number(cidr.split('/')[1])
  return Number.isInteger(len) ? len : 0
}

/**
 * The netmask of a prefix length, as netaddr prints it: dotted quad for IPv4
 * (`255.255.255.0`), compressed hex groups for IPv6 (`ffff:ffff:ffff:ffff::`).
 */
export function netmaskOf(version: 4 | 6, prefixLength: number): string {
  const bits = version === 4 ? 32 : 128
  const len = Math.max(0, Math.min(bits, Number.isInteger(prefixLength) ? prefixLength : 0))
  const bitAt = (i: number): number => (i < len ? 1 : 0)
  if (version === 4) {
    const octets: number[] = []
    for (let o = 0; o < 4; o += 1) {
      let v = 0
      for (let b = 0; b < 8; b += 1) v = (v << 1) | bitAt(o * 8 + b)
      octets.push(v)
    }
    return octets.join('.')
  }
  const groups: number[] = []
  for (let g = 0; g < 8; g += 1) {
    let v = 0
    for (let b = 0; b < 16; b += 1) v = (v << 1) | bitAt(g * 16 + b)
    groups.push(v)
  }
  return compressIpv6(groups)
}

/** RFC 5952 text of eight 16-bit groups: the longest run (2+) of zero groups becomes `::`. */
function compressIpv6(groups: readonly number[]): string {
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i += 1
      continue
    }
    let j = i
    while (j < groups.length && groups[j] === 0) j += 1
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`
}
