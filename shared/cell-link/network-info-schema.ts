import { isIP } from 'node:net'
import { z } from 'zod'
import { IP_VERSIONS, RULE_DIRECTIONS } from '../network/network-info.js'

/**
 * The bounds a receiving cell checks on a build's `networkInfo` (shared/network/network-info.ts)
 * before anything of it reaches a driver: the values end up in a libvirt domain definition and an
 * nwfilter (names, addresses, bridge names), so every one is checked for its format here, not only
 * escaped there. Formats are plain code over node:net's `isIP` (no regular expressions built at
 * run time).
 */

/** At most this many interfaces per server (Nova has no limit; a domain with more is no server). */
export const MAX_PORTS = 16
/** At most this many addresses per interface. */
export const MAX_FIXED_IPS = 16
/** At most this many security group rules per interface (after expanding remote groups). */
export const MAX_RULES_PER_PORT = 500

const HEX = '0123456789abcdefABCDEF'

/** `fa:16:3e:01:02:03`: six pairs of hex digits separated by colons. */
export function isMacAddress(s: string): boolean {
  const parts = s.split(':')
  return parts.length === 6 && parts.every((p) => p.length === 2 && HEX.includes(p[0] ?? 'x') && HEX.includes(p[1] ?? 'x'))
}

/** The IP version (4, 6) of a CIDR `address/prefix` with a prefix in range, else 0. */
export function cidrVersion(s: string): 0 | 4 | 6 {
  const slash = s.indexOf('/')
  if (slash < 0 || slash !== s.lastIndexOf('/')) return 0
  const version = isIP(s.slice(0, slash))
  const prefix = s.slice(slash + 1)
  if (version === 0 || prefix === '' || prefix.length > 3 || ![...prefix].every((c) => c >= '0' && c <= '9')) return 0
  if (Number(prefix) > (version === 4 ? 32 : 128)) return 0
  return version === 4 ? 4 : 6
}

/** A Linux interface name (IFNAMSIZ - 1 characters of letters, digits, `-`, `_`, `.`). */
export function isInterfaceName(s: string): boolean {
  return s.length >= 1 && s.length <= 15 && [...s].every((c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c === '-' || c === '_' || c === '.')
}

const ip = z.string().max(64).refine((s) => isIP(s) !== 0, 'is not an IP address')
const cidr = z.string().max(64).refine((s) => cidrVersion(s) !== 0, 'is not a CIDR')
const port = z.number().int().min(0).max(65_535)

const fixedIpSchema = z
  .object({
    subnetId: z.string().min(1).max(255),
    ipAddress: ip,
    version: z.union(IP_VERSIONS.map((v) => z.literal(v))),
    cidr,
    gatewayIp: ip.optional(),
    dnsNameservers: z.array(ip).max(16),
    hostRoutes: z.array(z.object({ destination: cidr, nexthop: ip }).strict()).max(32),
  })
  .strict()
  .refine((f) => isIP(f.ipAddress) === f.version && cidrVersion(f.cidr) === f.version, 'address and CIDR must be of the IP version given')

const ruleSchema = z
  .object({
    direction: z.enum(RULE_DIRECTIONS),
    ethertype: z.enum(['IPv4', 'IPv6']),
    protocol: z.string().min(1).max(32).nullable(),
    portRangeMin: port.nullable(),
    portRangeMax: port.nullable(),
    remoteIpPrefix: cidr.nullable(),
  })
  .strict()
  .refine((r) => r.remoteIpPrefix === null || cidrVersion(r.remoteIpPrefix) === (r.ethertype === 'IPv4' ? 4 : 6), 'remoteIpPrefix must be of the rule\'s ethertype')

const portSchema = z
  .object({
    // A uuid as Neutron allocates: the tap device and the nwfilter are named after it.
    portId: z.guid(),
    networkId: z.string().min(1).max(255),
    networkName: z.string().max(255),
    macAddress: z.string().refine(isMacAddress, 'is not a MAC address'),
    mtu: z.number().int().min(68).max(65_535),
    bridge: z.string().refine(isInterfaceName, 'is not an interface name'),
    fixedIps: z.array(fixedIpSchema).max(MAX_FIXED_IPS),
    portSecurityEnabled: z.boolean(),
    securityRules: z.array(ruleSchema).max(MAX_RULES_PER_PORT),
  })
  .strict()

/** A build's `networkInfo`: at most {@link MAX_PORTS} ports, each port id and MAC once. */
export const networkInfoSchema = z
  .array(portSchema)
  .max(MAX_PORTS)
  .refine((ports) => new Set(ports.map((p) => p.portId.toLowerCase())).size === ports.length, 'a port appears twice')
  .refine((ports) => new Set(ports.map((p) => p.macAddress.toLowerCase())).size === ports.length, 'a MAC address appears twice')
