import { formatAddress, parseAddress, parsePrefix } from '../security-groups/ip-prefix.js'
import type { ExternalSubnetFacts } from './network-directory.js'

/**
 * The addresses of a subnet a floating IP may take, lowest first: its allocation pools (or, with
 * none, the CIDR but its network and broadcast addresses), never the gateway, never one in `used`.
 * Lazy: a /8 is not listed up front.
 */
export function* candidateAddresses(subnet: ExternalSubnetFacts, used: ReadonlySet<string>): Generator<string> {
  const prefix = parsePrefix(subnet.cidr)
  if (prefix === undefined) return
  const version = prefix.version
  const gateway = subnet.gatewayIp === null ? undefined : parseAddress(subnet.gatewayIp)?.value
  const ranges: Array<[bigint, bigint]> = []
  if (subnet.allocationPools.length > 0) {
    for (const p of subnet.allocationPools) {
      const start = parseAddress(p.start)
      const end = parseAddress(p.end)
      if (start?.version === version && end?.version === version && start.value <= end.value) ranges.push([start.value, end.value])
    }
  } else {
    const size = 1n << BigInt((version === 4 ? 32 : 128) - prefix.length)
    const first = prefix.network + 1n
    const last = prefix.network + size - (version === 4 ? 2n : 1n)
    if (first <= last) ranges.push([first, last])
  }
  for (const [start, end] of ranges) {
    for (let v = start; v <= end; v++) {
      if (v === gateway) continue
      const text = formatAddress(version, v)
      if (!used.has(text)) yield text
    }
  }
}

/** Whether `address` may be asked for on `subnet`: inside its CIDR, neither network, broadcast nor gateway. */
export function isAssignable(subnet: ExternalSubnetFacts, address: string): boolean {
  const prefix = parsePrefix(subnet.cidr)
  const a = parseAddress(address)
  if (prefix === undefined || a === undefined || a.version !== prefix.version) return false
  const size = 1n << BigInt((a.version === 4 ? 32 : 128) - prefix.length)
  if (a.value < prefix.network || a.value >= prefix.network + size) return false
  if (a.version === 4 && prefix.length < 31 && (a.value === prefix.network || a.value === prefix.network + size - 1n)) return false
  const gateway = subnet.gatewayIp === null ? undefined : parseAddress(subnet.gatewayIp)?.value
  return a.value !== gateway
}

/** The canonical text of an address, or undefined when it is none. */
export function canonicalAddress(text: string): string | undefined {
  const a = parseAddress(text)
  return a === undefined ? undefined : formatAddress(a.version, a.value)
}
