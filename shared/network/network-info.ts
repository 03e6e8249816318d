/**
 * What a server's network attachments look like once the network service has allocated them: the
 * contract between the API cell's network service (which owns ports and addresses), the build path
 * (which carries it down the tree in the build spec), the conductor (which hands it to compute) and
 * the virt drivers (which render it: a bridge interface with this MAC, a libvirt nwfilter from the
 * security group rules). Compute never reads it from a database: it arrives with the build.
 *
 * Shapes follow Nova's `network_info` (a list of VIFs), reduced to what we render and serve.
 */

/** IP versions a subnet may have. */
export const IP_VERSIONS = [4, 6] as const
/** One of {@link IP_VERSIONS}. */
export type IpVersion = (typeof IP_VERSIONS)[number]

/** One address of a port, with the subnet facts a guest needs to configure it (network_data.json). */
export interface FixedIpInfo {
  readonly subnetId: string
  readonly ipAddress: string
  readonly version: IpVersion
  /** The subnet's CIDR, e.g. `10.0.0.0/24`. */
  readonly cidr: string
  /** Absent when the subnet has no gateway. */
  readonly gatewayIp?: string
  readonly dnsNameservers: readonly string[]
  readonly hostRoutes: readonly { readonly destination: string; readonly nexthop: string }[]
}

/** Directions of a security group rule, as Neutron names them. */
export const RULE_DIRECTIONS = ['ingress', 'egress'] as const
/** One of {@link RULE_DIRECTIONS}. */
export type RuleDirection = (typeof RULE_DIRECTIONS)[number]

/** One security group rule as the driver renders it (remote groups already expanded to prefixes). */
export interface SecurityRuleInfo {
  readonly direction: RuleDirection
  readonly ethertype: 'IPv4' | 'IPv6'
  /** `tcp`, `udp`, `icmp`, `ipv6-icmp`, a protocol number as a string, or null for any. */
  readonly protocol: string | null
  readonly portRangeMin: number | null
  readonly portRangeMax: number | null
  /** A CIDR, or null for any address. */
  readonly remoteIpPrefix: string | null
}

/** One interface of a server (Nova's VIF). */
export interface PortInfo {
  readonly portId: string
  readonly networkId: string
  /** The network's name: the key of the server's `addresses`. */
  readonly networkName: string
  /** `fa:16:3e:xx:xx:xx`, as Neutron allocates. */
  readonly macAddress: string
  readonly mtu: number
  /** The host bridge the interface joins (`br-<first 11 chars of the network id>`). */
  readonly bridge: string
  readonly fixedIps: readonly FixedIpInfo[]
  /** Whether the rules below are enforced (Neutron's `port_security_enabled`). */
  readonly portSecurityEnabled: boolean
  /** The union of the rules of the port's security groups. */
  readonly securityRules: readonly SecurityRuleInfo[]
}

/** A server's interfaces in order (the first is the guest's eth0). */
export type NetworkInfo = readonly PortInfo[]

/**
 * What the API cell's network service offers the compute API (implemented in api-cell/network).
 * Every call is idempotent by instance uuid: allocating again for an instance that has ports
 * returns those ports; releasing an instance that has none is a no-op.
 */
export interface NetworkAllocator {
  /**
   * Creates (or binds, for `port` requests) the ports of one server before its build is sent down,
   * with race-free addresses. Throws a 4xx-safe error for a request that cannot be met (unknown
   * network, address in use, no network for `auto`, over quota); allocates nothing then.
   */
  allocate(args: {
    readonly projectId: string
    readonly instanceUuid: string
    readonly request: NetworkRequest
    /** Security group names or ids from the server request (default: the project's `default`). */
    readonly securityGroups: readonly string[]
  }): Promise<NetworkInfo>
  /** Records the host the server landed on (`binding:host_id`). */
  bind(args: { readonly instanceUuid: string; readonly host: string }): Promise<void>
  /** Deletes the ports it created for the server and unbinds the ones it was given; exactly once. */
  release(args: { readonly instanceUuid: string }): Promise<void>
  /** The current interfaces of many servers at once (for views), by instance uuid. */
  interfacesOf(instanceUuids: readonly string[]): Promise<ReadonlyMap<string, NetworkInfo>>
}

/** Nova's `networks` of a server create request (2.37 semantics; before 2.37 absent means `auto`). */
export type NetworkRequest =
  | { readonly kind: 'auto' }
  | { readonly kind: 'none' }
  | { readonly kind: 'list'; readonly items: readonly ({ readonly uuid: string; readonly fixedIp?: string } | { readonly port: string })[] }

/**
 * Who owns a fixed address (implemented by api-cell/network; used by the metadata service, which
 * identifies the calling instance by its source address). `region` scopes the search to the
 * networks of one region (and the federation-wide ones); an address no port holds is `undefined`.
 */
export interface AddressLookup {
  instanceByAddress(args: { readonly ipAddress: string; readonly region?: string }): Promise<{ readonly instanceUuid: string; readonly projectId: string } | undefined>
}
