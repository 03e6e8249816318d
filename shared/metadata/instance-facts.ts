import type { NetworkInfo } from '../network/network-info.js'

/**
 * What the metadata content of one instance is rendered from: the same facts for the metadata
 * service (the API cell gathers them from the owning leaf) and the config drive (the leaf's
 * conductor takes them from the build spec), so both serve the same files.
 */
export interface InstanceFacts {
  readonly uuid: string
  /** The display name (`name` of meta_data.json). */
  readonly name: string
  readonly hostname: string
  readonly projectId: string
  readonly launchIndex: number
  readonly availabilityZone: string | null
  readonly reservationId: string
  readonly imageId: string
  readonly flavorName: string
  /** The server's metadata (`meta` of meta_data.json). */
  readonly metadata: Readonly<Record<string, string>>
  /** The key pair given at boot; null: none. */
  readonly keyName: string | null
  readonly keyData: string | null
  /** Base64, as the compute API received it; null: none (user_data is then a 404). */
  readonly userData: string | null
  /** Security group names (EC2's `security-groups`). */
  readonly securityGroups: readonly string[]
  /** The server's interfaces (`network_data.json`); empty: none. */
  readonly networkInfo: NetworkInfo
}

/** The EC2-compatible metadata versions, oldest first (Nova's `VERSIONS`). */
export const EC2_VERSIONS = ['1.0', '2007-01-19', '2007-03-01', '2007-08-29', '2007-10-10', '2007-12-15', '2008-02-01', '2008-09-01', '2009-04-04'] as const

/** The OpenStack metadata versions, oldest first (Nova's `OPENSTACK_VERSIONS`). */
export const OPENSTACK_VERSIONS = ['2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2016-10-06', '2017-02-22', '2018-08-27', '2020-10-14', '2025-04-04'] as const

/** One piece of content: its bytes and the media type the service answers it with. */
export interface MetadataItem {
  readonly body: Buffer
  readonly contentType: 'text/plain' | 'application/json'
}

/** `text/plain` content. */
export function textItem(s: string | Buffer): MetadataItem {
  return { body: typeof s === 'string' ? Buffer.from(s, 'utf8') : s, contentType: 'text/plain' }
}

/** `application/json` content. */
export function jsonItem(v: unknown): MetadataItem {
  return { body: Buffer.from(JSON.stringify(v), 'utf8'), contentType: 'application/json' }
}

/** The decoded user data, or undefined when the instance has none. */
export function userDataOf(facts: Pick<InstanceFacts, 'userData'>): Buffer | undefined {
  return facts.userData === null ? undefined : Buffer.from(facts.userData, 'base64')
}
