import type { Kysely } from 'kysely'
import type { SecurityRuleInfo } from '../../shared/network/network-info.js'
import type { FloatingIpStore } from './floating-ips/floating-ip-store.js'
import { clearPortGroups, groupsOfPorts, setPortGroups } from './security-groups/port-bindings.js'
import type { PortAddressLookup } from './security-groups/rules-for-port.js'
import { rulesForPort } from './security-groups/rules-for-port.js'
import type { SecurityGroupTables } from './security-groups/schema.js'
import type { NetworkCaller, SecurityGroupStore } from './security-groups/security-group-store.js'
import type { NetworkTables } from './schema.js'

/** The tables the port service reads and writes once security groups are mounted. */
export type PortSecurityTables = NetworkTables & SecurityGroupTables

/**
 * The fixed addresses of ports, read from `ip_allocations` (N1's IPAM): what `rulesForPort`
 * expands remote groups into.
 */
export class PortAddresses implements PortAddressLookup {
  readonly #db: Kysely<NetworkTables>

  constructor(db: Kysely<NetworkTables>) {
    this.#db = db
  }

  /** {@link PortAddressLookup.fixedIpsOf}. */
  async fixedIpsOf(portIds: readonly string[]): Promise<ReadonlyMap<string, readonly string[]>> {
    const out = new Map<string, string[]>()
    if (portIds.length === 0) return out
    const rows = await this.#db.selectFrom('ip_allocations').select(['port_id', 'ip_address']).where('port_id', 'in', [...portIds]).execute()
    for (const r of rows) out.set(r.port_id, [...(out.get(r.port_id) ?? []), r.ip_address])
    return out
  }
}

/**
 * Security groups as the port service uses them. The binding table of the security group store
 * (`securitygroupportbindings`, with its foreign key to the group) is the one record of a port's
 * groups: the port API reads and writes it, the allocator binds a server's groups there, and the
 * rules the hosts enforce are computed from it. Without this object (a network service built
 * alone, in unit tests) ports keep the ids in their own `security_groups` column.
 */
export class PortSecurity {
  readonly db: Kysely<PortSecurityTables>
  readonly groups: SecurityGroupStore
  readonly #addresses: PortAddressLookup
  readonly #floatingIps: FloatingIpStore | undefined

  constructor(args: { readonly db: Kysely<PortSecurityTables>; readonly groups: SecurityGroupStore; readonly floatingIps?: FloatingIpStore }) {
    this.db = args.db
    this.groups = args.groups
    this.#addresses = new PortAddresses(args.db)
    this.#floatingIps = args.floatingIps
  }

  /**
   * Group ids for names or ids in the caller's project; none given: the project's `default`
   * (created on first use). 404 `SecurityGroupNotFound` for an unknown one.
   */
  async resolve(caller: NetworkCaller, namesOrIds: readonly string[] | undefined): Promise<string[]> {
    return this.groups.resolve(caller, namesOrIds === undefined || namesOrIds.length === 0 ? ['default'] : namesOrIds)
  }

  /** Replaces the groups of a port. */
  async bind(portId: string, groupIds: readonly string[]): Promise<void> {
    await setPortGroups(this.db, portId, groupIds)
  }

  /** The group ids of many ports (ports without groups: `[]`). */
  async groupsOf(portIds: readonly string[]): Promise<Map<string, string[]>> {
    return groupsOfPorts(this.db, portIds)
  }

  /** The rules each port's host enforces (see `rulesForPort`), by port id. */
  async rulesOf(portIds: readonly string[]): Promise<Map<string, SecurityRuleInfo[]>> {
    const groups = await this.groupsOf(portIds)
    const out = new Map<string, SecurityRuleInfo[]>()
    for (const [port, ids] of groups) out.set(port, await rulesForPort({ db: this.db, addresses: this.#addresses }, ids))
    return out
  }

  /** The names of the groups of many ports, by port id (for Nova's server `security_groups`). */
  async namesOf(portIds: readonly string[]): Promise<Map<string, string[]>> {
    const groups = await this.groupsOf(portIds)
    const ids = [...new Set([...groups.values()].flat())]
    const names = new Map(ids.length === 0 ? [] : (await this.db.selectFrom('securitygroups').select(['id', 'name']).where('id', 'in', ids).execute()).map((g) => [g.id, g.name]))
    return new Map([...groups].map(([port, gs]) => [port, gs.map((g) => names.get(g) ?? g)]))
  }

  /** A port is being deleted: its bindings go, its floating IPs are disassociated. Idempotent. */
  async portRemoved(portId: string): Promise<void> {
    await clearPortGroups(this.db, portId)
    await this.#floatingIps?.disassociatePort(portId)
  }
}
