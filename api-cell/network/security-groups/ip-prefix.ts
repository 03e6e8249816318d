import { isIP } from 'node:net'

/**
 * Addresses and prefixes as numbers, for the few things security groups and floating IPs need:
 * normalising a `remote_ip_prefix` (`10.0.0.5/24` -> `10.0.0.0/24`, as Neutron stores it), telling
 * its version, and walking a subnet's allocation pools. Plain string code (no RegExp objects).
 */

/** An address or a prefix, parsed. */
export interface IpPrefix {
  readonly version: 4 | 6
  /** The network address (host bits cleared). */
  readonly network: bigint
  readonly length: number
}

const BITS = { 4: 32, 6: 128 } as const

/** The address as a number, or undefined when it is not an IPv4 or IPv6 address. */
export function parseAddress(text: string): { version: 4 | 6; value: bigint } | undefined {
  const version = isIP(text)
  if (version === 4) return { version, value: v4ToBig(text) }
  if (version === 6) {
    const value = v6ToBig(text)
    return value === undefined ? undefined : { version, value }
  }
  return undefined
}

/**
 * Parses `a.b.c.d/n`, `x::y/n` or a bare address (a host prefix: /32 or /128); the host bits are
 * cleared. Undefined for anything else (zone ids, a length out of range, leading zeros in it).
 */
export function parsePrefix(text: string): IpPrefix | undefined {
  const slash = text.indexOf('/')
  const addr = slash < 0 ? text : text.slice(0, slash)
  const parsed = parseAddress(addr)
  if (parsed === undefined) return undefined
  const max = BITS[parsed.version]
  let length: number = max
  if (slash >= 0) {
    const lenText = text.slice(slash + 1)
    if (lenText === '' || lenText.length > 3 || [...lenText].some((c) => c < '0' || c > '9') || (lenText.length > 1 && lenText.startsWith('0'))) return undefined
    length = Number(lenText)
    if (length > max) return undefined
  }
  return { version: parsed.version, network: parsed.value & maskOf(parsed.version, length), length }
}

/** The canonical text of a prefix: `10.0.0.0/24`, `2001:db8::/64`. */
export function formatPrefix(p: IpPrefix): string {
  return `${formatAddress(p.version, p.network)}/${p.length}`
}

/** `text` normalised as Neutron stores a `remote_ip_prefix`, or undefined when it is no prefix. */
export function normalizePrefix(text: string): string | undefined {
  const p = parsePrefix(text)
  return p === undefined ? undefined : formatPrefix(p)
}

/** Whether `address` (a parsed address) lies inside `prefix`. */
export function contains(prefix: IpPrefix, version: 4 | 6, address: bigint): boolean {
  return prefix.version === version && (address & maskOf(version, prefix.length)) === prefix.network
}

/** The canonical text of an address (IPv6 compressed as RFC 5952 says: the longest zero run). */
export function formatAddress(version: 4 | 6, value: bigint): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.')
  const groups: number[] = []
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn))
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i > 1) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`
}

function maskOf(version: 4 | 6, length: number): bigint {
  const bits = BigInt(BITS[version])
  const all = (1n << bits) - 1n
  return length === 0 ? 0n : (all >> (bits - BigInt(length))) << (bits - BigInt(length))
}

function v4ToBig(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
}

function v6ToBig(text: string): bigint | undefined {
  if (text.includes('%')) return undefined
  let head = text
  let tail4: bigint | undefined
  const lastColon = text.lastIndexOf(':')
  if (text.slice(lastColon + 1).includes('.')) {
    tail4 = v4ToBig(text.slice(lastColon + 1))
    head = `${text.slice(0, lastColon + 1)}0:0`
  }
  const halves = head.split('::')
  const left = halves[0] === '' || halves[0] === undefined ? [] : halves[0].split(':')
  const right = halves.length > 1 && halves[1] !== '' && halves[1] !== undefined ? halves[1].split(':') : []
  const groups = halves.length > 1 ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left
  if (groups.length !== 8) return undefined
  let value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n)
  if (tail4 !== undefined) value = (value & ~0xffffffffn) | tail4
  return value
}
