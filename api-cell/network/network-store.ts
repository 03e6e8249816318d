import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { isDuplicateKey } from '../../shared/db/database.js'
import type { NetCaller } from './caller.js'
import { canModify, canSee, policyRefused } from './caller.js'
import { badRequest, NeutronError, notFound } from './faults.js'
import { overlaps, parseCidr } from './ip-math.js'
import type { NetworkQuotas } from './quota-store.js'
import type { NetworkTable, NetworkTables, SubnetTable } from './schema.js'
import type { HostRoute, SubnetInput } from './subnet-model.js'
import { validateSubnet } from './subnet-model.js'

/** Network types whose encapsulation eats 50 bytes of a 1500-byte underlay (Neutron's default MTU rule). */
const OVERLAY_TYPES = new Set(['vxlan', 'geneve', 'gre'])

/** What a network create may set (request-schemas.ts parses the body into this). */
export interface NetworkInput {
  readonly name?: string
  readonly description?: string
  readonly adminStateUp?: boolean
  readonly shared?: boolean
  readonly external?: boolean
  readonly networkType?: string
  readonly physicalNetwork?: string | null
  readonly segmentationId?: number | null
  readonly mtu?: number
  readonly availabilityZoneHints?: readonly string[]
  /** Admin only: create for another project. */
  readonly projectId?: string
}

/** What a subnet create may set besides its addressing. */
export interface SubnetCreate extends SubnetInput {
  readonly networkId: string
  readonly name?: string
  readonly description?: string
  readonly enableDhcp?: boolean
  readonly ipv6AddressMode?: string | null
  readonly ipv6RaMode?: string | null
  readonly projectId?: string
}

/**
 * Networks and subnets in the API database, with Neutron's policy: who may see (see caller.ts),
 * who may write (owner or admin; `shared`, `router:external` and `provider:*` admin only), quotas
 * checked before inserting, a network with ports refused deletion (409 `NetworkInUse`), a subnet
 * with addresses in use too (409 `SubnetInUse`), overlapping CIDRs in one network refused (400).
 */
export class NetworkStore {
  readonly #db: Kysely<NetworkTables>
  readonly #quotas: NetworkQuotas

  constructor(db: Kysely<NetworkTables>, quotas: NetworkQuotas) {
    this.#db = db
    this.#quotas = quotas
  }

  /** Networks the caller may see (its endpoint's region and the federation-wide ones). */
  async listNetworks(caller: NetCaller): Promise<NetworkTable[]> {
    let q = this.#db.selectFrom('networks').selectAll()
    if (caller.region !== null) q = q.where((eb) => eb.or([eb('region', '=', caller.region), eb('region', 'is', null)]))
    if (!caller.isAdmin) q = q.where((eb) => eb.or([eb('project_id', '=', caller.projectId), eb('shared', '=', 1), eb('external', '=', 1)]))
    return q.execute()
  }

  /** One network the caller may see, else 404 `NetworkNotFound`. */
  async getNetwork(caller: NetCaller, id: string): Promise<NetworkTable> {
    const n = await this.#db.selectFrom('networks').selectAll().where('id', '=', id).executeTakeFirst()
    if (n === undefined || !canSee(caller, n)) throw notFound('Network', id)
    return n
  }

  /** Creates a network in the caller's region (null through the federation-wide endpoint). */
  async createNetwork(caller: NetCaller, input: NetworkInput): Promise<NetworkTable> {
    if (!caller.isAdmin) {
      if (input.shared === true) throw policyRefused('create_network and rule:create_network:shared')
      if (input.external === true) throw policyRefused('create_network and rule:create_network:router:external')
      if (input.networkType !== undefined || input.physicalNetwork != null || input.segmentationId != null) throw policyRefused('create_network and rule:create_network:provider:network_type')
      if (input.projectId !== undefined && input.projectId !== caller.projectId) throw policyRefused('create_network')
    }
    const projectId = input.projectId ?? caller.projectId
    await this.#quotas.check(projectId, 'network')
    const networkType = input.networkType ?? 'vxlan'
    if (networkType === 'flat' && input.segmentationId != null) throw badRequest('Invalid input for operation: segmentation_id requires VLAN provider network.', 'InvalidInput')
    const segmentationId = input.segmentationId ?? (networkType === 'flat' || networkType === 'local' ? null : await this.#nextSegment(networkType))
    const maxMtu = OVERLAY_TYPES.has(networkType) ? 1450 : 1500
    if (input.mtu !== undefined && (input.mtu < 68 || input.mtu > maxMtu)) throw badRequest(`Invalid input for operation: Requested MTU is too big, maximum is ${maxMtu}.`, 'InvalidInput')
    const now = Date.now()
    const row: NetworkTable = {
      id: randomUUID(),
      name: input.name ?? '',
      description: input.description ?? '',
      project_id: projectId,
      admin_state_up: input.adminStateUp === false ? 0 : 1,
      shared: input.shared === true ? 1 : 0,
      external: input.external === true ? 1 : 0,
      network_type: networkType,
      physical_network: input.physicalNetwork ?? (networkType === 'flat' || networkType === 'vlan' ? 'physnet1' : null),
      segmentation_id: segmentationId,
      mtu: input.mtu ?? maxMtu,
      status: 'ACTIVE',
      region: caller.region,
      availability_zone_hints: JSON.stringify(input.availabilityZoneHints ?? []),
      revision_number: 1,
      created_at: now,
      updated_at: now,
    }
    await this.#db.insertInto('networks').values(row).execute()
    return row
  }

  async #nextSegment(networkType: string): Promise<number> {
    const r = await this.#db.selectFrom('networks').select((eb) => eb.fn.max('segmentation_id').as('m')).where('network_type', '=', networkType).executeTakeFirst()
    return Number(r?.m ?? 0) + 1
  }

  /** Updates what Neutron lets change after create. */
  async updateNetwork(caller: NetCaller, id: string, input: NetworkInput): Promise<NetworkTable> {
    const n = await this.getNetwork(caller, id)
    if (!canModify(caller, n)) throw policyRefused('update_network')
    if (!caller.isAdmin && (input.shared !== undefined || input.external !== undefined)) throw policyRefused('update_network:shared')
    if (input.networkType !== undefined || input.physicalNetwork !== undefined || input.segmentationId !== undefined) {
      throw badRequest('Invalid input for operation: Plugin does not support updating provider attributes.', 'InvalidInput')
    }
    const set: Partial<NetworkTable> = { updated_at: Date.now(), revision_number: n.revision_number + 1 }
    if (input.name !== undefined) set.name = input.name
    if (input.description !== undefined) set.description = input.description
    if (input.adminStateUp !== undefined) set.admin_state_up = input.adminStateUp ? 1 : 0
    if (input.shared !== undefined) set.shared = input.shared ? 1 : 0
    if (input.external !== undefined) set.external = input.external ? 1 : 0
    if (input.mtu !== undefined) set.mtu = input.mtu
    await this.#db.updateTable('networks').set(set).where('id', '=', id).execute()
    return { ...n, ...set }
  }

  /** Deletes a network and its subnets; 409 `NetworkInUse` while ports remain. */
  async deleteNetwork(caller: NetCaller, id: string): Promise<void> {
    const n = await this.getNetwork(caller, id)
    if (!canModify(caller, n)) throw policyRefused('delete_network')
    const port = await this.#db.selectFrom('ports').select('id').where('network_id', '=', id).executeTakeFirst()
    if (port !== undefined) {
      throw new NeutronError({ type: 'NetworkInUse', status: 409, message: `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.` })
    }
    await this.#db.deleteFrom('subnets').where('network_id', '=', id).execute()
    await this.#db.deleteFrom('networks').where('id', '=', id).execute()
  }

  /** Subnets of networks the caller may see (and its own). */
  async listSubnets(caller: NetCaller, networkIds?: readonly string[]): Promise<SubnetTable[]> {
    const visible = networkIds ?? (await this.listNetworks(caller)).map((n) => n.id)
    if (visible.length === 0) return []
    return this.#db.selectFrom('subnets').selectAll().where('network_id', 'in', visible).orderBy('created_at').orderBy('id').execute()
  }

  /** Subnet ids of many networks at once, oldest first (the networks' `subnets` lists). */
  async subnetIdsOf(networkIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>()
    if (networkIds.length === 0) return out
    const rows = await this.#db.selectFrom('subnets').select(['id', 'network_id']).where('network_id', 'in', [...networkIds]).orderBy('created_at').orderBy('id').execute()
    for (const r of rows) out.set(r.network_id, [...(out.get(r.network_id) ?? []), r.id])
    return out
  }

  /** One subnet whose network the caller may see, else 404 `SubnetNotFound`. */
  async getSubnet(caller: NetCaller, id: string): Promise<SubnetTable> {
    const s = await this.#db.selectFrom('subnets').selectAll().where('id', '=', id).executeTakeFirst()
    if (s === undefined) throw notFound('Subnet', id)
    const n = await this.#db.selectFrom('networks').selectAll().where('id', '=', s.network_id).executeTakeFirst()
    if (n === undefined || !canSee(caller, n)) throw notFound('Subnet', id)
    return s
  }

  /** Creates a subnet on a network the caller owns (or any, as admin). */
  async createSubnet(caller: NetCaller, input: SubnetCreate): Promise<SubnetTable> {
    const n = await this.getNetwork(caller, input.networkId)
    if (!canModify(caller, n)) throw policyRefused('create_subnet')
    const projectId = caller.isAdmin ? (input.projectId ?? caller.projectId) : caller.projectId
    const addressing = validateSubnet(input)
    const siblings = await this.#db.selectFrom('subnets').select(['id', 'cidr']).where('network_id', '=', n.id).execute()
    for (const s of siblings) {
      const other = parseCidr(s.cidr)
      if (other !== undefined && overlaps(other, addressing.cidr)) {
        throw badRequest(`Invalid input for operation: Requested subnet with cidr: ${addressing.cidrText} for network: ${n.id} overlaps with another subnet.`, 'InvalidInput')
      }
    }
    await this.#quotas.check(projectId, 'subnet')
    const now = Date.now()
    const row: SubnetTable = {
      id: randomUUID(),
      network_id: n.id,
      project_id: projectId,
      name: input.name ?? '',
      description: input.description ?? '',
      ip_version: addressing.version,
      cidr: addressing.cidrText,
      gateway_ip: addressing.gatewayIp,
      enable_dhcp: input.enableDhcp === false ? 0 : 1,
      allocation_pools: JSON.stringify(addressing.pools),
      dns_nameservers: JSON.stringify(addressing.dnsNameservers),
      host_routes: JSON.stringify(addressing.hostRoutes),
      ipv6_address_mode: input.ipv6AddressMode ?? null,
      ipv6_ra_mode: input.ipv6RaMode ?? null,
      revision_number: 1,
      created_at: now,
      updated_at: now,
    }
    await this.#db.insertInto('subnets').values(row).execute()
    return row
  }

  /** Updates a subnet's name, description, DHCP flag, DNS servers or host routes. */
  async updateSubnet(caller: NetCaller, id: string, input: { name?: string; description?: string; enableDhcp?: boolean; dnsNameservers?: readonly string[]; hostRoutes?: readonly HostRoute[] }): Promise<SubnetTable> {
    const s = await this.getSubnet(caller, id)
    if (!canModify(caller, s)) throw policyRefused('update_subnet')
    const checked = validateSubnet({
      cidr: s.cidr,
      ipVersion: s.ip_version,
      gatewayIp: s.gateway_ip,
      allocationPools: JSON.parse(s.allocation_pools) as { start: string; end: string }[],
      dnsNameservers: input.dnsNameservers ?? (JSON.parse(s.dns_nameservers) as string[]),
      hostRoutes: input.hostRoutes ?? (JSON.parse(s.host_routes) as HostRoute[]),
    })
    const set: Partial<SubnetTable> = {
      updated_at: Date.now(),
      revision_number: s.revision_number + 1,
      dns_nameservers: JSON.stringify(checked.dnsNameservers),
      host_routes: JSON.stringify(checked.hostRoutes),
      ...(input.name === undefined ? {} : { name: input.name }),
      ...(input.description === undefined ? {} : { description: input.description }),
      ...(input.enableDhcp === undefined ? {} : { enable_dhcp: input.enableDhcp ? 1 : 0 }),
    }
    await this.#db.updateTable('subnets').set(set).where('id', '=', id).execute()
    return { ...s, ...set }
  }

  /** Deletes a subnet; 409 `SubnetInUse` while a port holds one of its addresses. */
  async deleteSubnet(caller: NetCaller, id: string): Promise<void> {
    const s = await this.getSubnet(caller, id)
    if (!canModify(caller, s)) throw policyRefused('delete_subnet')
    const held = await this.#db.selectFrom('ip_allocations').select('port_id').where('subnet_id', '=', id).executeTakeFirst()
    if (held !== undefined) {
      throw new NeutronError({ type: 'SubnetInUse', status: 409, message: `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.` })
    }
    await this.#db.deleteFrom('subnets').where('id', '=', id).execute()
  }

  /** Inserts a network row as is (bootstrap); false when its id exists. */
  async insertRaw(row: NetworkTable, subnet: SubnetTable): Promise<boolean> {
    try {
      await this.#db.insertInto('networks').values(row).execute()
    } catch (err) {
      if (isDuplicateKey(err)) return false
      throw err
    }
    await this.#db.insertInto('subnets').values(subnet).execute()
    return true
  }
}
