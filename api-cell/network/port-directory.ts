import type { Kysely } from 'kysely'
import type { InstancePort, InstancePorts } from '../compute/security-groups/instance-ports.js'
import type { AllocationPool, NetworkDirectory, NetworkFacts, PortFacts } from './floating-ips/network-directory.js'
import type { NetworkTables } from './schema.js'

/**
 * Networks, subnets and ports as floating IPs see them, read from the port service's tables
 * (`networks`, `subnets`, `ports`, `ip_allocations`).
 */
export class PortNetworkDirectory implements NetworkDirectory {
  readonly #db: Kysely<NetworkTables>

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
