import type { IpVersion } from '../../shared/network/network-info.js'
import { badRequest, NeutronError } from './faults.js'
import type { Cidr, Range } from './ip-math.js'
import { contains, firstHost, formatAddress, formatCidr, parseAddress, parseCidr, usableRange, withoutAddress } from './ip-math.js'

/** A pool as the API shows it. */
export interface PoolView {
  readonly start: string
  readonly end: string
}

/** A host route as the API shows it. */
export interface HostRoute {
  readonly destination: string
  readonly nexthop: string
}

/** What a subnet create asks for, after schema parsing. */
export interface SubnetInput {
  readonly cidr: string
  readonly ipVersion: number
  /** Absent: the first host; null: no gateway. */
  readonly gatewayIp?: string | null
  readonly allocationPools?: readonly { readonly start: string; readonly end: string }[]
  readonly dnsNameservers?: readonly string[]
  readonly hostRoutes?: readonly HostRoute[]
}

/** A subnet's addressing, validated and in canonical text. */
export interface SubnetAddressing {
  readonly version: IpVersion
  readonly cidr: Cidr
  readonly cidrText: string
  readonly gatewayIp: string | null
  readonly pools: readonly PoolView[]
  readonly dnsNameservers: readonly string[]
  readonly hostRoutes: readonly HostRoute[]
}

/** The pools as ranges of numbers, for IPAM. */
export function rangesOf(version: IpVersion, pools: readonly PoolView[]): Range[] {
  const ranges: Range[] = []
  for (const p of pools) {
    const s = parseAddress(p.start)
    const e = parseAddress(p.end)
    if (s !== undefined && e !== undefined && s.version === version && s.value <= e.value) ranges.push({ start: s.value, end: e.value })
  }
  return ranges
}

const canonicalOf = (version: IpVersion, field: string, text: string): string => {
  const a = parseAddress(text)
  if (a === undefined || a.version !== version) throw badRequest(`Invalid input for ${field}. Reason: '${text}' is not a valid IPv${version} address.`, 'InvalidInput')
  return formatAddress(a)
}

/**
 * Validates a subnet's addressing as Neutron does: the CIDR must be a network address of the
 * given version (400), the gateway inside it (400) and outside every pool (409
 * `GatewayConflictWithAllocationPools`), pools inside the CIDR (400 `OutOfBoundsAllocationPool`)
 * and disjoint (400 `OverlappingAllocationPools`). Default pools: the usable range minus the gateway.
 */
export function validateSubnet(input: SubnetInput): SubnetAddressing {
  if (input.ipVersion !== 4 && input.ipVersion !== 6) throw badRequest(`Invalid input for ip_version. Reason: ${input.ipVersion} is not in [4, 6].`, 'InvalidInput')
  const version: IpVersion = input.ipVersion
  const cidr = parseCidr(input.cidr)
  if (cidr === undefined) {
    const loose = parseCidr(input.cidr, false)
    const hint = loose === undefined ? '' : `, '${formatCidr(loose)}' is recommended`
    throw badRequest(`Invalid input for cidr. Reason: '${input.cidr}' isn't a recognized IP subnet cidr${hint}.`, 'InvalidInput')
  }
  if (cidr.version !== version) throw badRequest(`Invalid input for operation: Cidr ${input.cidr} does not match ip_version ${version}.`, 'InvalidInput')
  if (cidr.prefix === 0) throw badRequest('Invalid input for cidr. Reason: a /0 is not a subnet.', 'InvalidInput')
  let gateway: bigint | null
  if (input.gatewayIp === null) gateway = null
  else if (input.gatewayIp === undefined) gateway = version === 4 && cidr.prefix >= 31 ? null : firstHost(cidr)
  else {
    const g = parseAddress(canonicalOf(version, 'gateway_ip', input.gatewayIp))
    if (g === undefined || !contains(cidr, g)) throw badRequest(`Invalid input for operation: Gateway IP ${input.gatewayIp} is not in subnet ${formatCidr(cidr)}.`, 'InvalidInput')
    gateway = g.value
  }
  let ranges: Range[]
  if (input.allocationPools === undefined || input.allocationPools.length === 0) {
    const usable = usableRange(cidr)
    ranges = gateway === null ? [usable] : withoutAddress([usable], gateway)
  } else {
    ranges = []
    for (const p of input.allocationPools) {
      const s = parseAddress(canonicalOf(version, 'allocation_pools', p.start))
      const e = parseAddress(canonicalOf(version, 'allocation_pools', p.end))
      if (s === undefined || e === undefined || s.value > e.value) throw badRequest(`Invalid input for operation: The allocation pool ${p.start}-${p.end} spans beyond the subnet cidr ${formatCidr(cidr)}.`, 'InvalidAllocationPool')
      if (!contains(cidr, s) || !contains(cidr, e)) {
        throw badRequest(`The allocation pool ${p.start}-${p.end} spans beyond the subnet cidr ${formatCidr(cidr)}.`, 'OutOfBoundsAllocationPool')
      }
      ranges.push({ start: s.value, end: e.value })
    }
    const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : 1))
    for (let i = 1; i < sorted.length; i += 1) {
      if (sorted[i]!.start <= sorted[i - 1]!.end) throw badRequest('Found overlapping allocation pools.', 'OverlappingAllocationPools')
    }
    if (gateway !== null && ranges.some((r) => gateway! >= r.start && gateway! <= r.end)) {
      throw new NeutronError({ type: 'GatewayConflictWithAllocationPools', status: 409, message: `Gateway ip ${formatAddress({ version, value: gateway })} conflicts with allocation pool.` })
    }
  }
  const dns = (input.dnsNameservers ?? []).map((d) => canonicalOf(parseAddress(d)?.version ?? version, 'dns_nameservers', d))
  if (new Set(dns).size !== dns.length) throw badRequest('Duplicate nameserver in dns_nameservers.', 'InvalidInput')
  const routes = (input.hostRoutes ?? []).map((r) => {
    const dest = parseCidr(r.destination)
    if (dest === undefined) throw badRequest(`Invalid input for host_routes. Reason: '${r.destination}' isn't a recognized IP subnet cidr.`, 'InvalidInput')
    return { destination: formatCidr(dest), nexthop: canonicalOf(dest.version, 'host_routes', r.nexthop) }
  })
  return {
    version,
    cidr,
    cidrText: formatCidr(cidr),
    gatewayIp: gateway === null ? null : formatAddress({ version, value: gateway }),
    pools: ranges.map((r) => ({ start: formatAddress({ version, value: r.start }), end: formatAddress({ version, value: r.end }) })),
    dnsNameservers: dns,
    hostRoutes: routes,
  }
}
