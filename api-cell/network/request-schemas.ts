import { z } from 'zod'
import { badRequest } from './faults.js'
import type { NetworkInput, SubnetCreate } from './network-store.js'
import type { PortInput } from './port-store.js'
import type { HostRoute } from './subnet-model.js'

/** Neutron's boolean: JSON booleans, and the strings `true`/`false` in any case. */
const neutronBool = z.union([z.boolean(), z.string().regex(/^(true|false)$/i).transform((s) => s.toLowerCase() === 'true')])
const name = z.string().max(255)
const uuid = z.string().regex(/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i, 'is not a valid UUID')
const projectId = z.string().min(1).max(255)

const networkBody = z.object({
  network: z
    .object({
      name: name.optional(),
      description: name.optional(),
      admin_state_up: neutronBool.optional(),
      shared: neutronBool.optional(),
      'router:external': neutronBool.optional(),
      'provider:network_type': z.enum(['flat', 'vlan', 'vxlan', 'geneve', 'gre', 'local']).optional(),
      'provider:physical_network': z.string().min(1).max(64).nullable().optional(),
      'provider:segmentation_id': z.number().int().min(0).max(16_777_215).nullable().optional(),
      mtu: z.number().int().min(68).max(9216).optional(),
      availability_zone_hints: z.array(z.string().max(255)).optional(),
      project_id: projectId.optional(),
      tenant_id: projectId.optional(),
    })
    .passthrough(),
})

const pool = z.object({ start: z.string(), end: z.string() }).strict()
const route = z.object({ destination: z.string(), nexthop: z.string() }).strict()

const subnetBody = z.object({
  subnet: z
    .object({
      network_id: uuid,
      cidr: z.string().min(1).max(64),
      ip_version: z.union([z.literal(4), z.literal(6), z.enum(['4', '6']).transform(Number)]),
      name: name.optional(),
      description: name.optional(),
      gateway_ip: z.string().nullable().optional(),
      allocation_pools: z.array(pool).optional(),
      enable_dhcp: neutronBool.optional(),
      dns_nameservers: z.array(z.string()).optional(),
      host_routes: z.array(route).optional(),
      ipv6_address_mode: z.enum(['slaac', 'dhcpv6-stateful', 'dhcpv6-stateless']).nullable().optional(),
      ipv6_ra_mode: z.enum(['slaac', 'dhcpv6-stateful', 'dhcpv6-stateless']).nullable().optional(),
      project_id: projectId.optional(),
      tenant_id: projectId.optional(),
    })
    .passthrough(),
})

const subnetUpdateBody = z.object({
  subnet: z
    .object({ name: name.optional(), description: name.optional(), enable_dhcp: neutronBool.optional(), dns_nameservers: z.array(z.string()).optional(), host_routes: z.array(route).optional() })
    .passthrough(),
})

const fixedIp = z.object({ subnet_id: uuid.optional(), ip_address: z.string().min(1).max(64).optional() }).passthrough()

const portFields = {
  network_id: uuid.optional(),
  name: name.optional(),
  description: name.optional(),
  admin_state_up: neutronBool.optional(),
  mac_address: z.string().max(32).optional(),
  fixed_ips: z.array(fixedIp).optional(),
  device_id: z.string().max(255).optional(),
  device_owner: z.string().max(255).optional(),
  'binding:host_id': z.string().max(255).optional(),
  security_groups: z.array(uuid).optional(),
  port_security_enabled: neutronBool.optional(),
  project_id: projectId.optional(),
  tenant_id: projectId.optional(),
}
const portBody = z.object({ port: z.object(portFields).passthrough() })

/** Parses a body with `schema`, or Neutron's 400 naming the first problem. */
function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body)
  if (r.success) return r.data
  const issue = r.error.issues[0]
  const where = issue === undefined ? 'body' : issue.path.map(String).join('.') || 'body'
  throw badRequest(`Invalid input for ${where}. Reason: ${issue?.message ?? 'malformed request body'}.`, 'HTTPBadRequest')
}

const defined = <T extends Record<string, unknown>>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T

/** `POST /v2.0/networks` and `PUT /v2.0/networks/{id}` bodies. */
export function parseNetwork(body: unknown): NetworkInput {
  const n = parse(networkBody, body).network
  return defined({
    name: n.name,
    description: n.description,
    adminStateUp: n.admin_state_up,
    shared: n.shared,
    external: n['router:external'],
    networkType: n['provider:network_type'],
    physicalNetwork: n['provider:physical_network'],
    segmentationId: n['provider:segmentation_id'],
    mtu: n.mtu,
    availabilityZoneHints: n.availability_zone_hints,
    projectId: n.project_id ?? n.tenant_id,
  })
}

/** `POST /v2.0/subnets` body. */
export function parseSubnet(body: unknown): SubnetCreate {
  const s = parse(subnetBody, body).subnet
  return defined({
    networkId: s.network_id,
    cidr: s.cidr,
    ipVersion: s.ip_version,
    name: s.name,
    description: s.description,
    gatewayIp: s.gateway_ip,
    allocationPools: s.allocation_pools,
    enableDhcp: s.enable_dhcp,
    dnsNameservers: s.dns_nameservers,
    hostRoutes: s.host_routes,
    ipv6AddressMode: s.ipv6_address_mode,
    ipv6RaMode: s.ipv6_ra_mode,
    projectId: s.project_id ?? s.tenant_id,
  }) as SubnetCreate
}

/** `PUT /v2.0/subnets/{id}` body. */
export function parseSubnetUpdate(body: unknown): { name?: string; description?: string; enableDhcp?: boolean; dnsNameservers?: string[]; hostRoutes?: HostRoute[] } {
  const s = parse(subnetUpdateBody, body).subnet
  if ('cidr' in s || 'network_id' in s || 'ip_version' in s) throw badRequest('Cannot update read-only attribute cidr, network_id or ip_version', 'HTTPBadRequest')
  return defined({ name: s.name, description: s.description, enableDhcp: s.enable_dhcp, dnsNameservers: s.dns_nameservers, hostRoutes: s.host_routes })
}

/** `POST /v2.0/ports` and `PUT /v2.0/ports/{id}` bodies (create requires `network_id`). */
export function parsePort(body: unknown, create: boolean): PortInput {
  const p = parse(portBody, body).port
  if (create && p.network_id === undefined) throw badRequest("Invalid input for network_id. Reason: 'network_id' is required.", 'HTTPBadRequest')
  return defined({
    networkId: p.network_id,
    name: p.name,
    description: p.description,
    adminStateUp: p.admin_state_up,
    macAddress: p.mac_address,
    fixedIps: p.fixed_ips?.map((f) => defined({ subnetId: f.subnet_id, ipAddress: f.ip_address })),
    deviceId: p.device_id,
    deviceOwner: p.device_owner,
    bindingHostId: p['binding:host_id'],
    securityGroups: p.security_groups,
    portSecurityEnabled: p.port_security_enabled,
    projectId: p.project_id ?? p.tenant_id,
  })
}
