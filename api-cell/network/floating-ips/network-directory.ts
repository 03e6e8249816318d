import type { Kysely } from 'kysely'
import type { FloatingIpTables } from './schema.js'

/**
 * What floating IPs need to know of networks, subnets and ports, which the port service
 * (api-cell/network) owns. It implements this over its tables; tests use a map.
 */

/** An address range of a subnet (both ends included). */
export interface AllocationPool {
  readonly start: string
  readonly end: string
}

/** A subnet of an external network. */
export interface ExternalSubnetFacts {
  readonly id: string
  readonly ipVersion: 4 | 6
  readonly cidr: string
  readonly gatewayIp: string | null
  /** Empty: the whole CIDR but its network, broadcast and gateway addresses. */
  readonly allocationPools: readonly AllocationPool[]
}

/** A network as floating IPs see it. */
export interface NetworkFacts {
  readonly id: string
  readonly projectId: string
  /** `router:external`: only these give floating IPs. */
  readonly external: boolean
  readonly shared: boolean
  readonly subnets: readonly ExternalSubnetFacts[]
}

/** A port as floating IPs see it. */
export interface PortFacts {
  readonly id: string
  readonly projectId: string
  readonly networkId: string
  readonly fixedIps: readonly { readonly subnetId: string; readonly ipAddress: string }[]
}

/**
 * The port service's address table, shared with floating IPs: one UNIQUE (subnet, address) key
 * for both, so a port and a floating IP can never hold one address, even when allocated at the
 * same instant. Every call runs in the floating IP store's transaction (`tx`, the same database).
 */
export interface SharedAllocations {
  /** Records `ipAddress` as held by floating IP `holderId`; false when a port or floating IP holds it. */
  reserve(tx: Kysely<FloatingIpTables>, args: { readonly subnetId: string; readonly networkId: string; readonly ipAddress: string; readonly holderId: string }): Promise<boolean>
  /** Every address of `subnetId` held by a port or a floating IP. */
  held(tx: Kysely<FloatingIpTables>, subnetId: string): Promise<ReadonlySet<string>>
  /** Frees the address of floating IP `holderId` (idempotent). */
  release(tx: Kysely<FloatingIpTables>, holderId: string): Promise<void>
}

/** The lookups a floating IP store makes. */
export interface NetworkDirectory {
  network(id: string): Promise<NetworkFacts | undefined>
  port(id: string): Promise<PortFacts | undefined>
  /**
   * Whether a port holds `ipAddress` on `subnetId` (floating IPs never take a port's address).
   * Only asked without {@link NetworkDirectory.allocations}: a check before the insert, which a
   * port allocated at the same instant can slip past.
   */
  addressHeldByPort(subnetId: string, ipAddress: string): Promise<boolean>
  /** The port service's address table, when floating IPs share it (see {@link SharedAllocations}). */
  readonly allocations?: SharedAllocations
}
