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

/** The lookups a floating IP store makes. */
export interface NetworkDirectory {
  network(id: string): Promise<NetworkFacts | undefined>
  port(id: string): Promise<PortFacts | undefined>
  /** Whether a port holds `ipAddress` on `subnetId` (floating IPs never take a port's address). */
  addressHeldByPort(subnetId: string, ipAddress: string): Promise<boolean>
}
