import { createHash } from 'node:crypto'
import type { InstanceFacts } from './instance-facts.js'
import { EC2_VERSIONS, userDataOf } from './instance-facts.js'

/** One of {@link EC2_VERSIONS}. */
export type Ec2Version = (typeof EC2_VERSIONS)[number]

/** A node of the EC2 tree: a directory (`_name` overrides how its parent lists it) or a value. */
export type Ec2Node = Ec2Dir | string | number | null | readonly string[] | Buffer
/** A directory of the EC2 tree. */
export interface Ec2Dir {
  readonly [key: string]: Ec2Node
}

const at = (v: Ec2Version, since: Ec2Version): boolean => EC2_VERSIONS.indexOf(v) >= EC2_VERSIONS.indexOf(since)

/** `latest` or a dated version to the version it means; undefined for an unknown one. */
export function ec2Version(token: string): Ec2Version | undefined {
  if (token === 'latest') return EC2_VERSIONS[EC2_VERSIONS.length - 1]
  return (EC2_VERSIONS as readonly string[]).includes(token) ? (token as Ec2Version) : undefined
}

/**
 * An EC2-style id of a uuid (`i-`, `ami-` + 8 hex digits). Nova derives them from integer ids
 * its database assigns; the federation has none that are unique across cells, so the first 8 hex
 * digits of the uuid stand in (of its SHA-1 for an id that is no uuid).
 */
export function ec2IdOf(prefix: 'i' | 'ami', id: string): string {
  const hex = id.replaceAll('-', '').toLowerCase()
  const digits = /^[0-9a-f]{8}/.test(hex) ? hex.slice(0, 8) : createHash('sha1').update(id).digest('hex').slice(0, 8)
  return `${prefix}-${digits}`
}

/**
 * The version's tree (`meta-data` and, when the instance has user data, `user-data`), with
 * what each version added, as Nova's `get_ec2_metadata` builds it. `address`: the address the
 * request came from, `local-ipv4` when the instance has no fixed IPv4 address.
 */
export function ec2Tree(facts: InstanceFacts, v: Ec2Version, address: string | null): Ec2Dir {
  const fixedV4 = facts.networkInfo.flatMap((p) => p.fixedIps).find((ip) => ip.version === 4)?.ipAddress
  const md: Record<string, Ec2Node> = {
    'ami-id': ec2IdOf('ami', facts.imageId),
    'ami-launch-index': facts.launchIndex,
    'ami-manifest-path': 'FIXME',
    'instance-id': ec2IdOf('i', facts.uuid),
    hostname: facts.hostname,
    'local-ipv4': fixedV4 ?? address,
    'reservation-id': facts.reservationId,
    'security-groups': [...facts.securityGroups],
  }
  if (facts.keyName !== null && facts.keyData !== null) {
    md['public-keys'] = { '0': { _name: `0=${facts.keyName}`, 'openssh-key': facts.keyData } }
  }
  if (at(v, '2007-01-19')) {
    md['local-hostname'] = facts.hostname
    md['public-hostname'] = facts.hostname
    // No floating IPs are known to the metadata content yet.
    md['public-ipv4'] = ''
  }
  if (at(v, '2007-08-29')) md['instance-type'] = facts.flavorName
  if (at(v, '2007-12-15')) md['block-device-mapping'] = { ami: 'vda', root: '/dev/vda' }
  if (at(v, '2008-02-01')) md['placement'] = { 'availability-zone': facts.availabilityZone }
  if (at(v, '2008-09-01')) md['instance-action'] = 'none'
  const userData = userDataOf(facts)
  return userData === undefined ? { 'meta-data': md } : { 'meta-data': md, 'user-data': userData }
}

/** Walks `tokens` down the tree; undefined when a step does not exist. */
export function ec2Find(tree: Ec2Node, tokens: readonly string[]): Ec2Node | undefined {
  let node: Ec2Node | undefined = tree
  for (const t of tokens) {
    if (!isDir(node) || t === '_name' || !Object.hasOwn(node, t)) return undefined
    node = node[t]
  }
  return node
}

/**
 * How the service prints a node (Nova's `ec2_md_print`): a directory as its sorted keys, one a
 * line, subdirectories with a `/` (or their `_name`); a list one item a line; a value as text
 * (null as `None`, as Python prints it).
 */
export function ec2Print(node: Ec2Node): Buffer {
  if (Buffer.isBuffer(node)) return node
  if (isDir(node)) {
    const lines = Object.keys(node)
      .filter((k) => k !== '_name')
      .sort()
      .map((k) => {
        const child = node[k]
        if (!isDir(child)) return k
        const name = child['_name']
        return typeof name === 'string' ? name : `${k}/`
      })
    return Buffer.from(lines.join('\n'), 'utf8')
  }
  if (Array.isArray(node)) return Buffer.from(node.join('\n'), 'utf8')
  return Buffer.from(node === null ? 'None' : String(node), 'utf8')
}

/** The meta-data tree as the config drive's `ec2/<version>/meta-data.json` holds it (no `_name`). */
export function ec2MetaDataJson(tree: Ec2Dir): unknown {
  return JSON.parse(
    JSON.stringify(tree['meta-data'], (k: string, v: unknown) => (k === '_name' ? undefined : v)),
  ) as unknown
}

function isDir(node: Ec2Node | undefined): node is Ec2Dir {
  return typeof node === 'object' && node !== null && !Array.isArray(node) && !Buffer.isBuffer(node)
}
