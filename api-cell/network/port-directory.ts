import type { Kysely } from 'kysely'
import type { InstancePort, InstancePorts } from '../compute/security-groups/instance-ports.js'
import { isDuplicateKey } from '../../shared/db/database.js'
import type { AllocationPool, NetworkDirectory, NetworkFacts, PortFacts, SharedAllocations } from './floating-ips/network-directory.js'
import type { FloatingIpTables } from './floating-ips/schema.js'
import type { NetworkTables } from './schema.js'

/** The floating IP store's transaction, over the same API database that holds `ip_allocations`. */
const asNetworkDb = (tx: Kysely<FloatingIpTables>): Kysely<NetworkTables> => tx as unknown as Kysely<NetworkTables>

/**
 * Floating IPs hold their addresses in `ip_allocations` too, with the floating IP's id where a
 * port's id would be: the table's primary key (subnet, address) keeps ports and floating IPs
 * apart, and port IPAM skips those addresses without knowing floating IPs exist.
 */
export const SHARED_ALLOCATIONS: SharedAllocations = {
  async reserve(tx, a) {
    try {
      await asNetworkDb(tx).insertInto('ip_allocations').values({ subnet_id: a.subnetId, ip_address: a.ipAddress, port_id: a.holderId, network_id: a.networkId, created_at: Date.now() }).execute()
      return true
    } catch (err) {
      if (isDuplicateKey(err)) return false
      throw err
    }
  },
  async held(tx, subnetId) {
    return new Set((await asNetworkDb(tx).selectFrom('ip_allocations').select('ip_address').where('subnet_id', '=', subnetId).execute()).map((r) => r.ip_address))
  },
  async release(tx, holderId) {
    await asNetworkDb(tx).deleteFrom('ip_allocations').where('port_id', '=', holderId).execute()
  },
}

/**
 * Networks, subnets and ports as floating IPs see them, read from the port service's tables
 * (`networks`, `subnets`, `ports`, `ip_allocations`).
 */
export class PortNetworkDirectory implements NetworkDirectory {
  readonly #db: Kysely<NetworkTables>
  /** {@link NetworkDirectory.allocations}: one address table for ports and floating IPs. */
  readonly allocations = SHARED_ALLOCATIONS

  constructor(db: Kysely<NetworkTables>) {
    this.#db = db
  }

  /** {@link NetworkDirectory.network}. */
  async network(id: string): Promise<NetworkFacts | undefined> {
    const n = await this.#db.selectFrom('networks').selectAll().where('id', '=', id).executeTakeFirst()
    if (n === undefined) return undefined
    const subnets = await this.#db.selectFrom('subnets').selectAll().where('network_id', '=', id).orderBy('created_at').orderBy('id').execute()
    return {
      id: n.id,
      projectId: n.project_id,
      external: n.external === 1,
      shared: n.shared === 1,
      subnets: subnets.map((s) => ({
        id: s.id,
        ipVersion: s.ip_version === 6 ? 6 : 4,
        cidr: s.cidr,
        gatewayIp: s.gateway_ip,
        allocationPools: JSON.parse(s.allocation_pools) as AllocationPool[],
      })),
    }
  }

  /** {@link NetworkDirectory.port}. */
  async port(id: string): Promise<PortFacts | undefined> {
    const p = await this.#db.selectFrom('ports').select(['id', 'project_id', 'network_id']).where('id', '=', id).executeTakeFirst()
    if (p === undefined) return undefined
    const ips = await this.#db.selectFrom('ip_allocations').select(['subnet_id', 'ip_address', 'created_at']).where('port_id', '=', id).orderBy('created_at').execute()
    return { id: p.id, projectId: p.project_id, networkId: p.network_id, fixedIps: ips.map((r) => ({ subnetId: r.subnet_id, ipAddress: r.ip_address })) }
  }

  /** {@link NetworkDirectory.addressHeldByPort}: an `ip_allocations` row holds it. */
  async addressHeldByPort(subnetId: string, ipAddress: string): Promise<boolean> {
    const row = await this.#db.selectFrom('ip_allocations').select('port_id').where('subnet_id', '=', subnetId).where('ip_address', '=', ipAddress).executeTakeFirst()
    return row !== undefined
  }
}

/** A server's ports (those whose `device_id` is the server), for Nova's security group actions. */
export class ServerPorts implements InstancePorts {
  readonly #db: Kysely<NetworkTables>

  constructor(db: Kysely<NetworkTables>) {
    this.#db = db
  }

  /** {@link InstancePorts.portsOf}, in interface order. */
  async portsOf(instanceUuid: string): Promise<readonly InstancePort[]> {
    const rows = await this.#db.selectFrom('ports').select(['id', 'port_security_enabled']).where('device_id', '=', instanceUuid).orderBy('created_at').orderBy('id').execute()
    return rows.map((r) => ({ id: r.id, portSecurityEnabled: r.port_security_enabled === 1 }))
  }
}
