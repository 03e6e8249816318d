import type { NetworkTable, PortTable, SubnetTable } from './schema.js'
import type { FixedIps } from './port-store.js'

/** Neutron's timestamps: seconds, `Z`, no fraction (the `standard-attr-timestamp` extension). */
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

/** The standard attributes every resource carries (`standard-attr-*` extensions). */
const standard = (r: { description: string; created_at: number; updated_at: number; revision_number: number }): Record<string, unknown> => ({
  description: r.description,
  tags: [],
  created_at: iso(r.created_at),
  updated_at: iso(r.updated_at),
  revision_number: r.revision_number,
})

/**
 * A network as Neutron shows it. The `provider:*` attributes are admin only, as Neutron's policy
 * has them; `region` is ours, absent in Neutron, harmless to its clients.
 */
export function renderNetwork(n: NetworkTable, subnets: readonly string[], isAdmin: boolean): Record<string, unknown> {
  return {
    id: n.id,
    name: n.name,
    tenant_id: n.project_id,
    project_id: n.project_id,
    admin_state_up: n.admin_state_up === 1,
    status: n.status,
    subnets: [...subnets],
    shared: n.shared === 1,
    'router:external': n.external === 1,
    mtu: n.mtu,
    port_security_enabled: true,
    availability_zone_hints: JSON.parse(n.availability_zone_hints) as string[],
    availability_zones: ['nova'],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    is_default: false,
    'l2_adjacency': true,
    ...standard(n),
    ...(isAdmin
      ? { 'provider:network_type': n.network_type, 'provider:physical_network': n.physical_network, 'provider:segmentation_id': n.segmentation_id }
      : {}),
  }
}

/** A subnet as Neutron shows it. */
export function renderSubnet(s: SubnetTable): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    network_id: s.network_id,
    tenant_id: s.project_id,
    project_id: s.project_id,
    ip_version: s.ip_version,
    cidr: s.cidr,
    gateway_ip: s.gateway_ip,
    allocation_pools: JSON.parse(s.allocation_pools) as unknown[],
    enable_dhcp: s.enable_dhcp === 1,
    dns_nameservers: JSON.parse(s.dns_nameservers) as string[],
    host_routes: JSON.parse(s.host_routes) as unknown[],
    ipv6_address_mode: s.ipv6_address_mode,
    ipv6_ra_mode: s.ipv6_ra_mode,
    subnetpool_id: null,
    service_types: [],
    segment_id: null,
    ...standard(s),
  }
}

/** A port as Neutron shows it; the `binding:*` attributes are admin only, as in Neutron's policy. */
export function renderPort(p: PortTable, fixedIps: FixedIps, isAdmin: boolean, securityGroups?: readonly string[]): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    network_id: p.network_id,
    tenant_id: p.project_id,
    project_id: p.project_id,
    mac_address: p.mac_address,
    admin_state_up: p.admin_state_up === 1,
    status: p.status,
    device_id: p.device_id,
    device_owner: p.device_owner,
    fixed_ips: fixedIps.map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })),
    security_groups: securityGroups ?? (JSON.parse(p.security_groups) as string[]),
    port_security_enabled: p.port_security_enabled === 1,
    allowed_address_pairs: [],
    extra_dhcp_opts: [],
    dns_name: '',
    dns_assignment: [],
    ...standard(p),
    ...(isAdmin
      ? {
          'binding:host_id': p.binding_host_id,
          'binding:vif_type': p.binding_host_id === '' ? 'unbound' : 'bridge',
          'binding:vnic_type': 'normal',
          'binding:profile': {},
          'binding:vif_details': p.binding_host_id === '' ? {} : { port_filter: true },
        }
      : {}),
  }
}
