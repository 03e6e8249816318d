/**
 * Network tables in the API database (the Neutron v2.0 subset). Times are epoch milliseconds,
 * booleans 0/1 integers, lists JSON text. Addresses are stored in their canonical text form (see
 * ip-math.ts) so that the UNIQUE (subnet_id, ip_address) of `ip_allocations` compares like with like.
 */

/** One network. */
export interface NetworkTable {
  id: string
  name: string
  description: string
  project_id: string
  admin_state_up: number
  shared: number
  /** Neutron's `router:external`. */
  external: number
  network_type: string
  physical_network: string | null
  segmentation_id: number | null
  mtu: number
  status: string
  /** The region it belongs to (the endpoint it was created through); null: federation-wide. */
  region: string | null
  /** JSON array of strings. */
  availability_zone_hints: string
  revision_number: number
  created_at: number
  updated_at: number
}

/** One subnet of a network. */
export interface SubnetTable {
  id: string
  network_id: string
  project_id: string
  name: string
  description: string
  ip_version: number
  /** Canonical CIDR text. */
  cidr: string
  gateway_ip: string | null
  enable_dhcp: number
  /** JSON array of `{start, end}`. */
  allocation_pools: string
  /** JSON array of strings. */
  dns_nameservers: string
  /** JSON array of `{destination, nexthop}`. */
  host_routes: string
  ipv6_address_mode: string | null
  ipv6_ra_mode: string | null
  revision_number: number
  created_at: number
  updated_at: number
}

/** One port. */
export interface PortTable {
  id: string
  network_id: string
  project_id: string
  name: string
  description: string
  /** `fa:16:3e:..`, unique. */
  mac_address: string
  admin_state_up: number
  status: string
  device_id: string
  device_owner: string
  binding_host_id: string
  /** JSON array of security group ids. */
  security_groups: string
  port_security_enabled: number
  /** The instance the allocator created it for (it deletes it on release); null otherwise. */
  created_for: string | null
  revision_number: number
  created_at: number
  updated_at: number
}

/** One fixed address held by a port: the IPAM record, UNIQUE (subnet_id, ip_address). */
export interface IpAllocationTable {
  subnet_id: string
  ip_address: string
  /** The port holding it, or the floating IP (floating-ips/, which shares this key with ports). */
  port_id: string
  network_id: string
  created_at: number
}

/** Per-project limits of the network service (absent rows: the defaults). */
export interface NetworkQuotaTable {
  project_id: string
  resource: string
  hard_limit: number
}

/** The network part of the API database schema. */
export interface NetworkTables {
  networks: NetworkTable
  subnets: SubnetTable
  ports: PortTable
  ip_allocations: IpAllocationTable
  network_quotas: NetworkQuotaTable
}
