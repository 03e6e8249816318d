import { isIP } from 'node:net'
import type { IpVersion } from '../../shared/network/network-info.js'

/**
 * Address arithmetic for IPAM, on bigints so that IPv4 and IPv6 share one code path. Text forms
 * are canonical (IPv4 dotted quad without leading zeros, IPv6 compressed lower case), so that an
 * address stored by one request compares equal to the same address typed differently by another:
 * the UNIQUE (subnet_id, ip_address) constraint is only race-free if every writer spells alike.
 */

/** A parsed address. */
export interface Address {
  readonly version: IpVersion
  readonly value: bigint
}

/** A parsed, normalised CIDR. */
export interface Cidr {
  readonly version: IpVersion
  /** The network address (host bits zero). */
  readonly network: bigint
  readonly prefix: number
}

const bitsOf = (v: IpVersion): number => (v === 4 ? 32 : 128)

/** Parses an IPv4 or IPv6 address (no zone, no prefix); undefined when it is not one. */
export function parseAddress(text: string): Address | undefined {
  const kind = isIP(text)
  if (kind === 4) {
    const parts = text.split('.').map((p) => BigInt(Number(p)))
    return { version: 4, value: parts.reduce((acc, p) => (acc << 8n) | p, 0n) }
  }
  if (kind !== 6) return undefined
  // Node's URL parser rewrites an embedded IPv4 tail in hex and compresses: one form to expand.
  const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1)
  const [head = '', tail] = canonical.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return { version: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) }
}

/** The canonical text of an address. */
export function formatAddress(a: Address): string {
  if (a.version === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((a.value >> s) & 255n)).join('.')
  }
  const groups: string[] = []
  for (let i = 7n; i >= 0n; i -= 1n) groups.push(((a.value >> (i * 16n)) & 0xffffn).toString(16))
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1)
}

/** The canonical text of `text` when it is an address, else undefined. */
export function canonicalAddress(text: string): string | undefined {
  const a = parseAddress(text)
  return a === undefined ? undefined : formatAddress(a)
}

/**
 * Parses `a.b.c.d/n` or `x::/n`. `strict` refuses host bits (Neutron's "isn't a recognized IP
 * subnet cidr"); otherwise they are cleared. Undefined for anything else.
 */
export function parseCidr(text: string, strict = true): Cidr | undefined {
  const slash = text.indexOf('/')
  if (slash < 0) return undefined
  const addr = parseAddress(text.slice(0, slash))
  const prefixText = text.slice(slash + 1)
  if (addr === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined
  const prefix = Number(prefixText)
  const bits = bitsOf(addr.version)
  if (prefix > bits) return undefined
  const hostMask = (1n << BigInt(bits - prefix)) - 1n
  if (strict && (addr.value & hostMask) !== 0n) return undefined
  return { version: addr.version, network: addr.value & ~hostMask, prefix }
}

/** The canonical text of a CIDR. */
export function formatCidr(c: Cidr): string {
  return `${formatAddress({ version: c.version, value: c.network })}/${c.prefix}`
}

/** The last address of the CIDR (IPv4's broadcast). */
export function lastOf(c: Cidr): bigint {
  return c.network + (1n << BigInt(bitsOf(c.version) - c.prefix)) - 1n
}

/** Whether `a` lies in `c` (same version). */
export function contains(c: Cidr, a: Address): boolean {
  return a.version === c.version && a.value >= c.network && a.value <= lastOf(c)
}

/** Whether two CIDRs share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.version === b.version && a.network <= lastOf(b) && b.network <= lastOf(a)
}

/** An inclusive range of addresses of one version. */
export interface Range {
  readonly start: bigint
  readonly end: bigint
}

/**
 * The addresses a port may get by default: IPv4 without the network and broadcast addresses (all
 * of a /31 or /32), IPv6 without the subnet-router anycast address, as Neutron computes them.
 */
export function usableRange(c: Cidr): Range {
  const last = lastOf(c)
  if (c.version === 4) return c.prefix >= 31 ? { start: c.network, end: last } : { start: c.network + 1n, end: last - 1n }
  return c.prefix >= 127 ? { start: c.network, end: last } : { start: c.network + 1n, end: last }
}

/** The first usable address: Neutron's default gateway. */
export function firstHost(c: Cidr): bigint {
  return usableRange(c).start
}

/** `ranges` minus the single address `cut` (splits a range in two when it falls inside). */
export function withoutAddress(ranges: readonly Range[], cut: bigint): Range[] {
  const out: Range[] = []
  for (const r of ranges) {
    if (cut < r.start || cut > r.end) {
      out.push(r)
      continue
    }
    if (r.start < cut) out.push({ start: r.start, end: cut - 1n })
    if (cut < r.end) out.push({ start: cut + 1n, end: r.end })
  }
  return out
}

/** How many addresses the ranges hold (for quota-like details and exhaustion checks). */
export function sizeOf(ranges: readonly Range[]): bigint {
  return ranges.reduce((n, r) => n + (r.end - r.start + 1n), 0n)
}
