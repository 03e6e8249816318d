import { createHash } from 'node:crypto'
import type { NetworkTable, SubnetTable } from './schema.js'
import type { NetworkService } from './service.js'
import { validateSubnet } from './subnet-model.js'

/** A uuid derived from a name: every API process (and restart) computes the same one. */
function stableUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/** The name of a region's default network. */
export const regionNetworkName = (region: string): string => `${region}-net`

/** The federation-wide default network's name. */
export const FEDERATION_NETWORK_NAME = 'federation-net'

/**
 * At first start: one shared network per region, `<region>-net`, owned by the admin project, with
 * an IPv4 subnet `10.<n>.0.0/16` (n: the region's position, from 1), so that a plain boot through a
 * region's endpoint gets an address there; and one federation-wide shared network,
 * `federation-net` (`10.0.0.0/16`), which plain boots through the federation-wide endpoint take,
 * so that their build may still go to any region (and fail over between them). Ids derive from
 * the names and inserts that find the id taken do nothing: a restart, or several API processes
 * starting at once, create each network once. A region added later gets its network at the next
 * start (its number follows the others).
 */
export async function seedRegionNetworks(service: NetworkService, adminProjectId: string, regions: readonly string[]): Promise<void> {
  const now = Date.now()
  for (const [i, region] of [null, ...regions].entries()) {
    const key = region ?? ''
    const id = stableUuid('network', key)
    const exists = await service.db.selectFrom('networks').select('id').where('id', '=', id).executeTakeFirst()
    if (exists !== undefined) continue
    const addressing = validateSubnet({ cidr: `10.${i % 255}.0.0/16`, ipVersion: 4, dnsNameservers: [] })
    const network: NetworkTable = {
      id,
      name: region === null ? FEDERATION_NETWORK_NAME : regionNetworkName(region),
      description: region === null ? 'The shared network of the whole federation' : `The shared network of ${region}`,
      project_id: adminProjectId,
      admin_state_up: 1,
      shared: 1,
      external: 0,
      network_type: 'vxlan',
      physical_network: null,
      segmentation_id: 1000 + i,
      mtu: 1450,
      status: 'ACTIVE',
      region,
      availability_zone_hints: '[]',
      revision_number: 1,
      created_at: now,
      updated_at: now,
    }
    const subnet: SubnetTable = {
      id: stableUuid('subnet', key),
      network_id: id,
      project_id: adminProjectId,
      name: `${region ?? 'federation'}-subnet`,
      description: '',
      ip_version: 4,
      cidr: addressing.cidrText,
      gateway_ip: addressing.gatewayIp,
      enable_dhcp: 1,
      allocation_pools: JSON.stringify(addressing.pools),
      dns_nameservers: '[]',
      host_routes: '[]',
      ipv6_address_mode: null,
      ipv6_ra_mode: null,
      revision_number: 1,
      created_at: now,
      updated_at: now,
    }
    await service.networks.insertRaw(network, subnet)
  }
}
