import type { Kysely, Selectable } from 'kysely'
import { isDuplicateKey } from '../../../shared/db/database.js'
import type { NetworkQuotaLimits } from '../security-groups/network-quotas.js'
import { DEFAULT_NETWORK_QUOTA_LIMITS, withNetworkQuotaLock } from '../security-groups/network-quotas.js'
import { badRequest, conflict, notFound, overQuota, policyForbidden } from '../security-groups/neutron-faults.js'
import { isUuid } from '../../../shared/uuid.js'
import type { NetworkCaller } from '../security-groups/security-group-store.js'
import { canonicalAddress, candidateAddresses, isAssignable } from './address-picker.js'
import type { NetworkDirectory, NetworkFacts } from './network-directory.js'
import type { FloatingIpsTable, FloatingIpTables } from './schema.js'

/** A floating IP row. */
export type FloatingIpRow = Selectable<FloatingIpsTable>

/** Filters of a floating IP list (Neutron's query parameters). */
export interface FloatingIpFilters {
  readonly projectId?: string
  readonly ids?: readonly string[]
  readonly floatingNetworkIds?: readonly string[]
  readonly portIds?: readonly string[]
  readonly floatingIpAddresses?: readonly string[]
  readonly fixedIpAddresses?: readonly string[]
  readonly statuses?: readonly string[]
}

/** An association asked for: a port and, optionally, which of its fixed addresses. */
export interface Association {
  readonly portId: string
  readonly fixedIpAddress?: string
}

/** How many taken addresses one allocation steps over before giving up (each is a lost race). */
const MAX_ALLOCATION_RACES = 64

/**
 * Floating IPs on `router:external` networks. An address is allocated from the network's IPv4
 * subnets (first free address of the pools) under a UNIQUE (subnet, address) key, so concurrent
 * allocations, in one process or many, never share one; a floating IP never takes an address a
 * port holds (with the port service's `allocations`, one key covers ports and floating IPs). Associated with a port it is ACTIVE, else DOWN (there is no L3 agent to wait for).
 */
export class FloatingIpStore {
  readonly #db: Kysely<FloatingIpTables>
  readonly #directory: NetworkDirectory
  readonly #limits: NetworkQuotaLimits

  constructor(args: { readonly db: Kysely<FloatingIpTables>; readonly directory: NetworkDirectory; readonly limits?: NetworkQuotaLimits }) {
    this.#db = args.db
    this.#directory = args.directory
    this.#limits = args.limits ?? DEFAULT_NETWORK_QUOTA_LIMITS
  }

  /**
   * Allocates a floating IP on `networkId` for `projectId` (the caller's unless an admin names
   * another), associated at once when `association` is given. Only admins choose the address.
   */
  async create(
    caller: NetworkCaller,
    a: {
      readonly networkId: string
      readonly projectId?: string
      /** Allocate from this subnet of the network only (Neutron's `subnet_id`). */
      readonly subnetId?: string
      readonly address?: string
      readonly description: string
      readonly association?: Association
    },
  ): Promise<FloatingIpRow> {
    const projectId = a.projectId ?? caller.projectId
    const network = await this.#externalNetwork(caller, a.networkId)
    if (a.address !== undefined && !caller.isAdmin) throw policyForbidden('create_floatingip:floating_ip_address')
    const assoc = a.association === undefined ? undefined : await this.#resolveAssociation({ projectId, isAdmin: caller.isAdmin }, a.association)
    const subnets = network.subnets.filter((s) => s.ipVersion === 4 && (a.subnetId === undefined || s.id === a.subnetId.toLowerCase()))
    if (a.subnetId !== undefined && subnets.length === 0) {
      throw badRequest(`Bad floatingip request: Subnet ${a.subnetId} is not an IPv4 subnet of network ${network.id}.`, 'BadRequest')
    }
    const limit = await this.#limits.limitOf(projectId, 'floatingip')
    const id = crypto.randomUUID()
    const now = Date.now()
    return withNetworkQuotaLock(this.#db, `floatingip:${projectId}`, async (tx) => {
      if (limit >= 0) {
        const { n } = await tx.selectFrom('floatingips').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId).executeTakeFirstOrThrow()
        if (Number(n) + 1 > limit) throw overQuota('floatingip')
      }
      const taken = await this.#take(tx, network, subnets, id, a.address)
      const row: FloatingIpRow = {
        id,
        project_id: projectId,
        floating_network_id: network.id,
        floating_subnet_id: taken.subnetId,
        floating_ip_address: taken.address,
        port_id: assoc?.portId ?? null,
        fixed_ip_address: assoc?.fixedIpAddress ?? null,
        description: a.description,
        status: assoc === undefined ? 'DOWN' : 'ACTIVE',
        revision_number: 0,
        created_at: now,
        updated_at: now,
      }
      try {
        await tx.insertInto('floatingips').values(row).execute()
      } catch (err) {
        if (isDuplicateKey(err) && assoc !== undefined) throw alreadyAssociated(row.floating_ip_address, id, assoc.portId, assoc.fixedIpAddress, network.id)
        throw err
      }
      return row
    })
  }

  /** One floating IP the caller may see, or Neutron's 404. */
  async get(caller: NetworkCaller, id: string): Promise<FloatingIpRow> {
    const row = isUuid(id) ? await this.#db.selectFrom('floatingips').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst() : undefined
    if (row === undefined || (!caller.isAdmin && row.project_id !== caller.projectId)) throw notFound('FloatingIPNotFound', `Floating IP ${id} could not be found`)
    return row
  }

  /** Floating IPs the caller may see, oldest first. */
  async list(caller: NetworkCaller, f: FloatingIpFilters = {}): Promise<FloatingIpRow[]> {
    let q = this.#db.selectFrom('floatingips').selectAll()
    if (!caller.isAdmin) q = q.where('project_id', '=', caller.projectId)
    if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId)
    const inList = (v: readonly string[]): string[] => (v.length === 0 ? [''] : [...v])
    if (f.ids !== undefined) q = q.where('id', 'in', inList(f.ids))
    if (f.floatingNetworkIds !== undefined) q = q.where('floating_network_id', 'in', inList(f.floatingNetworkIds))
    if (f.portIds !== undefined) q = q.where('port_id', 'in', inList(f.portIds))
    if (f.floatingIpAddresses !== undefined) q = q.where('floating_ip_address', 'in', inList(f.floatingIpAddresses))
    if (f.fixedIpAddresses !== undefined) q = q.where('fixed_ip_address', 'in', inList(f.fixedIpAddresses))
    if (f.statuses !== undefined) q = q.where('status', 'in', inList(f.statuses))
    return q.orderBy('created_at').orderBy('id').execute()
  }

  /**
   * Associates (`association` given), disassociates (`null`) or leaves the port alone
   * (`undefined`), and updates the description when given.
   */
  async update(caller: NetworkCaller, id: string, a: { readonly association?: Association | null; readonly description?: string }): Promise<FloatingIpRow> {
    const row = await this.get(caller, id)
    const set: Partial<FloatingIpRow> = { updated_at: Date.now(), revision_number: row.revision_number + 1 }
    if (a.description !== undefined) set.description = a.description
    if (a.association === null) Object.assign(set, { port_id: null, fixed_ip_address: null, status: 'DOWN' })
    if (a.association !== undefined && a.association !== null) {
      const assoc = await this.#resolveAssociation({ projectId: row.project_id, isAdmin: caller.isAdmin }, a.association)
      Object.assign(set, { port_id: assoc.portId, fixed_ip_address: assoc.fixedIpAddress, status: 'ACTIVE' })
    }
    try {
      await this.#db.updateTable('floatingips').set(set).where('id', '=', row.id).execute()
    } catch (err) {
      if (isDuplicateKey(err)) throw alreadyAssociated(row.floating_ip_address, row.id, String(set.port_id), set.fixed_ip_address ?? undefined, row.floating_network_id)
      throw err
    }
    return { ...row, ...set }
  }

  /** Deletes a floating IP and frees its address, in one transaction. */
  async delete(caller: NetworkCaller, id: string): Promise<void> {
    const row = await this.get(caller, id)
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom('floatingips').where('id', '=', row.id).execute()
      await tx.deleteFrom('floatingip_allocations').where('floatingip_id', '=', row.id).execute()
      await this.#directory.allocations?.release(tx, row.id)
    })
  }

  /** Disassociates every floating IP of a port (the port service calls it when it deletes a port). */
  async disassociatePort(portId: string): Promise<void> {
    await this.#db.updateTable('floatingips').set({ port_id: null, fixed_ip_address: null, status: 'DOWN', updated_at: Date.now() }).where('port_id', '=', portId).execute()
  }

  async #externalNetwork(caller: NetworkCaller, networkId: string): Promise<NetworkFacts> {
    const network = isUuid(networkId) ? await this.#directory.network(networkId.toLowerCase()) : undefined
    // External networks are visible to every project (Neutron's policy for router:external).
    if (network === undefined || (!network.external && !network.shared && !caller.isAdmin && network.projectId !== caller.projectId)) {
      throw notFound('NetworkNotFound', `Network ${networkId} could not be found.`)
    }
    if (!network.external) throw badRequest(`Bad floatingip request: Network ${network.id} is not a valid external network.`, 'BadRequest')
    return network
  }

  /** The port (the floating IP's project's, or any for admins) and the fixed IPv4 address to use. */
  async #resolveAssociation(owner: NetworkCaller, a: Association): Promise<{ portId: string; fixedIpAddress: string }> {
    const port = isUuid(a.portId) ? await this.#directory.port(a.portId.toLowerCase()) : undefined
    if (port === undefined || (!owner.isAdmin && port.projectId !== owner.projectId)) throw notFound('PortNotFound', `Port ${a.portId} could not be found.`)
    const v4 = port.fixedIps.filter((ip) => !ip.ipAddress.includes(':'))
    if (a.fixedIpAddress !== undefined) {
      const wanted = canonicalAddress(a.fixedIpAddress)
      const found = v4.find((ip) => canonicalAddress(ip.ipAddress) === wanted)
      if (found === undefined) throw badRequest(`Bad floatingip request: Port ${port.id} does not have fixed ip ${a.fixedIpAddress}.`, 'BadRequest')
      return { portId: port.id, fixedIpAddress: found.ipAddress }
    }
    const first = v4[0]
    if (first === undefined) throw badRequest(`Bad floatingip request: Port ${port.id} does not have fixed ip.`, 'BadRequest')
    if (v4.length > 1) {
      throw badRequest(`Bad floatingip request: Port ${port.id} has multiple fixed IPv4 addresses. Must provide a specific IPv4 address when assigning a floating IP.`, 'BadRequest')
    }
    return { portId: port.id, fixedIpAddress: first.ipAddress }
  }

  /** Takes an address in `tx`: the one asked for (409 when taken), else the first free one. */
  async #take(tx: Kysely<FloatingIpTables>, network: NetworkFacts, subnets: NetworkFacts['subnets'], id: string, asked: string | undefined): Promise<{ subnetId: string; address: string }> {
    /** `port`: a port holds it; `race`: another floating IP took it since we looked. */
    const shared = this.#directory.allocations
    const insert = async (subnetId: string, address: string): Promise<'ok' | 'port' | 'race'> => {
      if (shared !== undefined) {
        // The shared key decides: a port or another floating IP holding the address refuses it.
        if (!(await shared.reserve(tx, { subnetId, networkId: network.id, ipAddress: address, holderId: id }))) return 'port'
      } else if (await this.#directory.addressHeldByPort(subnetId, address)) return 'port'
      try {
        await tx.insertInto('floatingip_allocations').values({ subnet_id: subnetId, ip_address: address, floatingip_id: id }).execute()
        return 'ok'
      } catch (err) {
        if (isDuplicateKey(err)) {
          await shared?.release(tx, id)
          return 'race'
        }
        throw err
      }
    }
    if (asked !== undefined) {
      const address = canonicalAddress(asked)
      const subnet = address === undefined ? undefined : subnets.find((s) => isAssignable(s, address))
      if (address === undefined || subnet === undefined) {
        throw badRequest(`Invalid input for operation: IP address ${asked} is not a valid IP for any of the subnets on the specified network.`, 'InvalidInput')
      }
      if ((await insert(subnet.id, address)) !== 'ok') throw conflict('IpAddressInUse', `Unable to complete operation for network ${network.id}. The IP address ${address} is in use.`)
      return { subnetId: subnet.id, address }
    }
    let races = 0
    for (const subnet of subnets) {
      const rows = await tx.selectFrom('floatingip_allocations').select('ip_address').where('subnet_id', '=', subnet.id).execute()
      const used = new Set([...rows.map((r) => r.ip_address), ...(shared === undefined ? [] : await shared.held(tx, subnet.id))])
      for (const address of candidateAddresses(subnet, used)) {
        const outcome = await insert(subnet.id, address)
        if (outcome === 'ok') return { subnetId: subnet.id, address }
        if (outcome === 'race' && ++races > MAX_ALLOCATION_RACES) break
      }
    }
    throw conflict('IpAddressGenerationFailure', `No more IP addresses available on network ${network.id}.`)
  }
}

function alreadyAssociated(address: string, id: string, portId: string, fixed: string | undefined, networkId: string): Error {
  return conflict(
    'FloatingIPPortAlreadyAssociated',
    `Cannot associate floating IP ${address} (${id}) with port ${portId} using fixed IP ${fixed ?? ''}, as that fixed IP already has a floating IP on external network ${networkId}.`,
  )
}
