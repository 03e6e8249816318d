import { randomBytes, randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { isDuplicateKey } from '../../shared/db/database.js'
import type { NetCaller } from './caller.js'
import { canModify, policyRefused } from './caller.js'
import { badRequest, NeutronError, notFound } from './faults.js'
import { canonicalAddress, contains, parseAddress, parseCidr } from './ip-math.js'
import type { Ipam } from './ipam.js'
import type { NetworkStore } from './network-store.js'
import type { PortSecurity } from './port-security.js'
import type { NetworkQuotas } from './quota-store.js'
import type { NetworkTables, PortTable, SubnetTable } from './schema.js'

/** One fixed IP as a request names it: a subnet, an address, or both. */
export interface FixedIpRequest {
  readonly subnetId?: string
  readonly ipAddress?: string
}

/** What a port create or update may set. */
export interface PortInput {
  readonly networkId?: string
  readonly name?: string
  readonly description?: string
  readonly adminStateUp?: boolean
  readonly macAddress?: string
  readonly fixedIps?: readonly FixedIpRequest[]
  readonly deviceId?: string
  readonly deviceOwner?: string
  /** Admin only (`binding:host_id`). */
  readonly bindingHostId?: string
  /**
   * Security group ids. With security groups mounted they are resolved (404 for an unknown one)
   * and bound in the security group store; absent on create: the project's `default`.
   */
  readonly securityGroups?: readonly string[]
  readonly portSecurityEnabled?: boolean
  readonly projectId?: string
}

/** A port's addresses, as `fixed_ips` shows them. */
export type FixedIps = readonly { readonly subnet_id: string; readonly ip_address: string }[]

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/

/** A MAC in Neutron's base `fa:16:3e`. */
const randomMac = (): string => `fa:16:3e:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`

/**
 * Ports in the API database: a port is created with its addresses (all or nothing: a failed
 * allocation removes the port and the addresses it got), its MAC unique (`fa:16:3e` + random,
 * retried on a collision), status DOWN until `binding:host_id` is set, ACTIVE after. Deleting a
 * port frees its addresses once (see ipam.ts).
 */
export class PortStore {
  readonly #db: Kysely<NetworkTables>
  readonly #networks: NetworkStore
  readonly #ipam: Ipam
  readonly #quotas: NetworkQuotas
  readonly #security: PortSecurity | undefined

  constructor(args: { readonly db: Kysely<NetworkTables>; readonly networks: NetworkStore; readonly ipam: Ipam; readonly quotas: NetworkQuotas; readonly security?: PortSecurity }) {
    this.#db = args.db
    this.#security = args.security
    this.#networks = args.networks
    this.#ipam = args.ipam
    this.#quotas = args.quotas
  }

  /** Ports the caller may see: its own (all, as admin) on networks its endpoint shows. */
  async listPorts(caller: NetCaller): Promise<PortTable[]> {
    const networks = (await this.#networks.listNetworks(caller)).map((n) => n.id)
    if (networks.length === 0) return []
    let q = this.#db.selectFrom('ports').selectAll().where('network_id', 'in', networks)
    if (!caller.isAdmin) q = q.where('project_id', '=', caller.projectId)
    return q.execute()
  }

  /** One port the caller may see, else 404 `PortNotFound`. */
  async getPort(caller: NetCaller, id: string): Promise<PortTable> {
    const p = await this.#db.selectFrom('ports').selectAll().where('id', '=', id).executeTakeFirst()
    if (p === undefined || (!caller.isAdmin && p.project_id !== caller.projectId)) throw notFound('Port', id)
    await this.#networks.getNetwork(caller, p.network_id).catch(() => {
      throw notFound('Port', id)
    })
    return p
  }

  /** The addresses of many ports at once (IPv4 first). */
  async fixedIpsOf(portIds: readonly string[]): Promise<Map<string, { subnet_id: string; ip_address: string }[]>> {
    const out = new Map<string, { subnet_id: string; ip_address: string }[]>()
    if (portIds.length === 0) return out
    const rows = await this.#db.selectFrom('ip_allocations').select(['port_id', 'subnet_id', 'ip_address', 'created_at']).where('port_id', 'in', [...portIds]).execute()
    rows.sort((a, b) => Number(a.ip_address.includes(':')) - Number(b.ip_address.includes(':')) || a.created_at - b.created_at)
    for (const r of rows) out.set(r.port_id, [...(out.get(r.port_id) ?? []), { subnet_id: r.subnet_id, ip_address: r.ip_address }])
    return out
  }

  /**
   * Creates a port with its addresses: those asked for, or one from the network's first IPv4
   * subnet and one from its first IPv6 subnet. `owner`: the instance the allocator creates it for
   * (it deletes it on release), and a creation time that orders the instance's interfaces.
   */
  async createPort(caller: NetCaller, input: PortInput & { readonly networkId: string }, owner?: { readonly instanceUuid: string; readonly createdAt: number }): Promise<PortTable> {
    const network = await this.#networks.getNetwork(caller, input.networkId)
    if (!caller.isAdmin) {
      if (input.bindingHostId !== undefined && input.bindingHostId !== '') throw policyRefused('create_port:binding:host_id')
      if (input.projectId !== undefined && input.projectId !== caller.projectId) throw policyRefused('create_port')
      if (input.macAddress !== undefined && network.project_id !== caller.projectId) throw policyRefused('create_port:mac_address')
    }
    if (input.macAddress !== undefined && !MAC.test(input.macAddress.toLowerCase())) throw badRequest(`Invalid input for mac_address. Reason: '${input.macAddress}' is not a valid MAC address.`, 'InvalidInput')
    const projectId = input.projectId ?? caller.projectId
    const plan = await this.#plan(network.id, input.fixedIps)
    const groups = await this.#groupsFor({ projectId, isAdmin: caller.isAdmin }, input)
    await this.#quotas.check(projectId, 'port')
    const now = owner?.createdAt ?? Date.now()
    const base: Omit<PortTable, 'mac_address'> = {
      id: randomUUID(),
      network_id: network.id,
      project_id: projectId,
      name: input.name ?? '',
      description: input.description ?? '',
      admin_state_up: input.adminStateUp === false ? 0 : 1,
      status: input.bindingHostId === undefined || input.bindingHostId === '' ? 'DOWN' : 'ACTIVE',
      device_id: input.deviceId ?? '',
      device_owner: input.deviceOwner ?? '',
      binding_host_id: input.bindingHostId ?? '',
      // With security groups mounted, their binding table is the record; this column stays empty.
      security_groups: JSON.stringify(this.#security === undefined ? (input.securityGroups ?? []) : []),
      port_security_enabled: input.portSecurityEnabled === false ? 0 : 1,
      created_for: owner?.instanceUuid ?? null,
      revision_number: 1,
      created_at: now,
      updated_at: now,
    }
    const row = await this.#insertWithMac(base, input.macAddress?.toLowerCase())
    try {
      for (const p of plan) await this.#ipam.allocate({ subnet: p.subnet, portId: row.id, ...(p.ipAddress === undefined ? {} : { ipAddress: p.ipAddress }) })
      if (groups !== undefined && groups.length > 0) await this.#security?.bind(row.id, groups)
    } catch (err) {
      await this.#remove(row.id)
      throw err
    }
    return row
  }

  /**
   * The group ids a created port gets (undefined without security groups mounted): those named,
   * else the project's `default`, as Neutron gives; none for a port without port security or a
   * network-owned port (`network:*`).
   */
  async #groupsFor(owner: { projectId: string; isAdmin: boolean }, input: PortInput): Promise<string[] | undefined> {
    if (this.#security === undefined) return undefined
    if (input.securityGroups === undefined && (input.portSecurityEnabled === false || (input.deviceOwner ?? '').startsWith('network:'))) return []
    if (input.securityGroups !== undefined && input.securityGroups.length === 0) return []
    if (input.portSecurityEnabled === false) throw badRequest('Port has no port security enabled: it cannot have security groups.', 'PortSecurityAndIPRequiredForSecurityGroups')
    return this.#security.resolve(owner, input.securityGroups)
  }

  /** The security group ids of many ports, from the binding table when security groups are mounted. */
  async groupsOf(ports: readonly PortTable[]): Promise<Map<string, string[]>> {
    if (this.#security === undefined) return new Map(ports.map((p) => [p.id, JSON.parse(p.security_groups) as string[]]))
    return this.#security.groupsOf(ports.map((p) => p.id))
  }

  async #insertWithMac(base: Omit<PortTable, 'mac_address'>, mac: string | undefined): Promise<PortTable> {
    for (let attempt = 0; ; attempt += 1) {
      const row = { ...base, mac_address: mac ?? randomMac() }
      try {
        await this.#db.insertInto('ports').values(row).execute()
        return row
      } catch (err) {
        if (!isDuplicateKey(err)) throw err
        if (mac !== undefined) throw new NeutronError({ type: 'MacAddressInUse', status: 409, message: `Unable to complete operation for network ${base.network_id}. The mac address ${mac} is in use.` })
        if (attempt >= 16) throw err
      }
    }
  }

  /** Resolves fixed IP requests to subnets of the network (400 for a subnet elsewhere or an address in none). */
  async #plan(networkId: string, requests: readonly FixedIpRequest[] | undefined): Promise<{ subnet: SubnetTable; ipAddress?: string }[]> {
    const subnets = await this.#db.selectFrom('subnets').selectAll().where('network_id', '=', networkId).orderBy('created_at').orderBy('id').execute()
    if (requests === undefined) {
      const v4 = subnets.find((s) => s.ip_version === 4)
      const v6 = subnets.find((s) => s.ip_version === 6)
      return [v4, v6].filter((s): s is SubnetTable => s !== undefined).map((subnet) => ({ subnet }))
    }
    return requests.map((r) => {
      if (r.subnetId !== undefined) {
        const subnet = subnets.find((s) => s.id === r.subnetId)
        if (subnet === undefined) throw badRequest(`Invalid input for operation: Failed to create port on network ${networkId}, because fixed_ips included invalid subnet ${r.subnetId}.`, 'InvalidInput')
        return { subnet, ...(r.ipAddress === undefined ? {} : { ipAddress: r.ipAddress }) }
      }
      if (r.ipAddress === undefined) throw badRequest('Invalid input for fixed_ips. Reason: a fixed IP needs subnet_id or ip_address.', 'InvalidInput')
      const a = parseAddress(r.ipAddress)
      const subnet = a === undefined ? undefined : subnets.find((s) => {
        const c = parseCidr(s.cidr)
        return c !== undefined && contains(c, a)
      })
      if (subnet === undefined) throw badRequest(`IP address ${r.ipAddress} is not a valid IP for any subnet on network ${networkId}.`, 'InvalidIpForNetwork')
      return { subnet, ipAddress: r.ipAddress }
    })
  }

  /** Updates a port; a new `fixed_ips` list frees the addresses it leaves out and allocates the new ones. */
  async updatePort(caller: NetCaller, id: string, input: PortInput): Promise<PortTable> {
    const p = await this.getPort(caller, id)
    if (!canModify(caller, p)) throw policyRefused('update_port')
    if (!caller.isAdmin && input.bindingHostId !== undefined) throw policyRefused('update_port:binding:host_id')
    if (input.networkId !== undefined && input.networkId !== p.network_id) throw badRequest("Cannot update read-only attribute network_id", 'HTTPBadRequest')
    const groups = input.securityGroups === undefined || this.#security === undefined ? undefined : await this.#groupsFor({ projectId: p.project_id, isAdmin: caller.isAdmin }, input)
    if (input.fixedIps !== undefined) await this.#replaceAddresses(p, input.fixedIps)
    if (groups !== undefined) await this.#security?.bind(p.id, groups)
    const host = input.bindingHostId ?? p.binding_host_id
    const set: Partial<PortTable> = {
      updated_at: Date.now(),
      revision_number: p.revision_number + 1,
      status: host === '' ? 'DOWN' : 'ACTIVE',
      binding_host_id: host,
      ...(input.name === undefined ? {} : { name: input.name }),
      ...(input.description === undefined ? {} : { description: input.description }),
      ...(input.adminStateUp === undefined ? {} : { admin_state_up: input.adminStateUp ? 1 : 0 }),
      ...(input.deviceId === undefined ? {} : { device_id: input.deviceId }),
      ...(input.deviceOwner === undefined ? {} : { device_owner: input.deviceOwner }),
      ...(input.securityGroups === undefined || this.#security !== undefined ? {} : { security_groups: JSON.stringify(input.securityGroups) }),
      ...(input.portSecurityEnabled === undefined ? {} : { port_security_enabled: input.portSecurityEnabled ? 1 : 0 }),
    }
    await this.#db.updateTable('ports').set(set).where('id', '=', id).execute()
    return { ...p, ...set }
  }

  async #replaceAddresses(p: PortTable, requests: readonly FixedIpRequest[]): Promise<void> {
    const current = (await this.fixedIpsOf([p.id])).get(p.id) ?? []
    const keep = new Set<string>()
    const fresh: FixedIpRequest[] = []
    for (const r of requests) {
      const ip = r.ipAddress === undefined ? undefined : (canonicalAddress(r.ipAddress) ?? r.ipAddress)
      const held = current.find((c) => !keep.has(`${c.subnet_id}|${c.ip_address}`) && (ip === undefined ? c.subnet_id === r.subnetId : c.ip_address === ip && (r.subnetId === undefined || c.subnet_id === r.subnetId)))
      if (held === undefined) fresh.push(r)
      else keep.add(`${held.subnet_id}|${held.ip_address}`)
    }
    const plan = await this.#plan(p.network_id, fresh)
    const added: { subnet: string; ip: string }[] = []
    try {
      for (const x of plan) added.push({ subnet: x.subnet.id, ip: await this.#ipam.allocate({ subnet: x.subnet, portId: p.id, ...(x.ipAddress === undefined ? {} : { ipAddress: x.ipAddress }) }) })
    } catch (err) {
      for (const a of added) await this.#ipam.releaseAddress(p.id, a.subnet, a.ip)
      throw err
    }
    for (const c of current) if (!keep.has(`${c.subnet_id}|${c.ip_address}`)) await this.#ipam.releaseAddress(p.id, c.subnet_id, c.ip_address)
  }

  /** Deletes a port and frees its addresses. */
  async deletePort(caller: NetCaller, id: string): Promise<void> {
    const p = await this.getPort(caller, id)
    if (!canModify(caller, p)) throw policyRefused('delete_port')
    await this.#remove(id)
  }

  /** Frees a port's addresses, then removes it (idempotent: a second call finds nothing). */
  async #remove(id: string): Promise<void> {
    await this.#security?.portRemoved(id)
    await this.#ipam.releasePort(id)
    await this.#db.deleteFrom('ports').where('id', '=', id).execute()
  }

  /** The allocator's deletion of a port it created (no policy: the instance's release). */
  async removeForInstance(id: string): Promise<void> {
    await this.#remove(id)
  }
}
