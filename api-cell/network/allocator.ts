import { randomInt } from 'node:crypto'
import { AppError, ConflictError, InvalidError, OverQuotaError } from '../../shared/errors.js'
import type { AddressLookup, FixedIpInfo, IpVersion, NetworkAllocator, NetworkInfo, NetworkRequest, PortInfo, SecurityRuleInfo } from '../../shared/network/network-info.js'
import type { NetCaller } from './caller.js'
import { canSee } from './caller.js'
import { canonicalAddress } from './ip-math.js'
import type { NetworkTable, PortTable } from './schema.js'
import type { NetworkService } from './service.js'
import type { HostRoute } from './subnet-model.js'

/** What the compute API asks of one server's networks (the interface's args plus where it boots). */
export interface ServerAllocateArgs {
  readonly projectId: string
  readonly instanceUuid: string
  readonly request: NetworkRequest
  readonly securityGroups: readonly string[]
  /** The region of the endpoint the server is created through; null: the federation-wide one. */
  readonly region?: string | null
  readonly isAdmin?: boolean
  /**
   * For `auto` through the federation-wide endpoint: regions best first (the global scheduler's
   * ranking for the flavor). The shared network of the first that has one is taken.
   */
  readonly preferRegions?: readonly string[]
}

/** A server's allocation and the region its networks pin it to (null: any). */
export interface ServerAllocation {
  readonly networkInfo: NetworkInfo
  readonly region: string | null
}

/** Nova's `device_owner` for an instance's ports. */
const DEVICE_OWNER = 'compute:nova'

/**
 * The compute API's side of the network service (Nova's `network.neutron.API`): ports for a server
 * before its build goes down, bound to the host it lands on, released when it is deleted.
 * Allocation is all or nothing (what it created is removed, what it claimed unclaimed, when one
 * item of the request fails) and idempotent by instance uuid.
 */
export class PortAllocator implements NetworkAllocator, AddressLookup {
  readonly #s: NetworkService

  constructor(service: NetworkService) {
    this.#s = service
  }

  /** {@link NetworkAllocator.allocate}. */
  async allocate(args: ServerAllocateArgs): Promise<NetworkInfo> {
    return (await this.allocateForServer(args)).networkInfo
  }

  /**
   * Allocates, and says which region the chosen networks belong to: a server on a region's
   * network must be built in that region. Networks of two regions in one request are a 400.
   */
  async allocateForServer(args: ServerAllocateArgs): Promise<ServerAllocation> {
    const existing = await this.#portsOf([args.instanceUuid])
    if (existing.length > 0) {
      const info = await this.#infoOf(existing)
      return { networkInfo: info, region: await this.#regionOfPorts(existing) }
    }
    // Names are resolved before anything is written: a bad one allocates nothing. Nova checks
    // them whatever the networks, `none` included.
    const groups = this.#s.security === undefined ? [] : await this.#s.security.resolve({ projectId: args.projectId, isAdmin: false }, args.securityGroups).catch((err: unknown) => {
      throw toNova(err)
    })
    if (args.request.kind === 'none') return { networkInfo: [], region: null }
    const caller: NetCaller = { projectId: args.projectId, isAdmin: args.isAdmin === true, region: args.region ?? null }
    try {
      const withGroups = { ...args, securityGroups: groups }
      const region = args.request.kind === 'auto' ? await this.#auto(withGroups, caller) : await this.#list(withGroups, caller, args.request.items)
      return { networkInfo: await this.#infoOf(await this.#portsOf([args.instanceUuid])), region }
    } catch (err) {
      await this.release({ instanceUuid: args.instanceUuid })
      throw toNova(err)
    }
  }

  /**
   * The one network the project may use, as Nova picks for `auto`: its own (not shared; two of
   * them are ambiguous, 409), else a shared one: through a region's endpoint that region's (the
   * oldest), else a federation-wide one; through the federation-wide endpoint a federation-wide
   * one (the build may then go to any region), else the network of the best-ranked region
   * ({@link ServerAllocateArgs.preferRegions}; at random without a ranking), which pins the build.
   */
  async #auto(args: ServerAllocateArgs, caller: NetCaller): Promise<string | null> {
    const all = (await this.#s.networks.listNetworks({ ...caller, isAdmin: false })).filter((n) => n.external === 0 && n.admin_state_up === 1)
    const own = all.filter((n) => n.project_id === args.projectId && n.shared === 0)
    if (own.length > 1) throw new ConflictError('Multiple possible networks found, use a Network ID to be more specific.')
    let pick: NetworkTable | undefined = own[0]
    if (pick === undefined) {
      const shared = all.filter((n) => n.shared === 1).sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1))
      const global = shared.find((n) => n.region === null)
      if (caller.region !== null) pick = shared.find((n) => n.region === caller.region) ?? global
      else if (global !== undefined) pick = global
      else {
        const perRegion = shared.filter((n) => n.region !== null)
        const ranked = (args.preferRegions ?? []).map((r) => perRegion.find((n) => n.region === r)).find((n) => n !== undefined)
        pick = ranked ?? perRegion[perRegion.length === 0 ? 0 : randomInt(perRegion.length)]
      }
    }
    if (pick === undefined) throw new InvalidError(`Unable to automatically allocate a network for project ${args.projectId}`)
    await this.#create(caller, args, pick, undefined, 0)
    return pick.region
  }

  async #list(args: ServerAllocateArgs, caller: NetCaller, items: Extract<NetworkRequest, { kind: 'list' }>['items']): Promise<string | null> {
    let region: string | null = null
    const pin = (n: { region: string | null }): void => {
      if (n.region === null) return
      if (region !== null && region !== n.region) throw new InvalidError(`Networks of regions ${region} and ${n.region} cannot be attached to one server.`)
      region = n.region
    }
    const networks = new Map<string, NetworkTable>()
    const ports: PortTable[] = []
    // Everything is checked before anything is written: a bad item allocates nothing.
    for (const item of items) {
      if ('port' in item) {
        const p = await this.#s.db.selectFrom('ports').selectAll().where('id', '=', item.port).executeTakeFirst()
        const n = p === undefined ? undefined : await this.#s.db.selectFrom('networks').selectAll().where('id', '=', p.network_id).executeTakeFirst()
        if (p === undefined || n === undefined || (!caller.isAdmin && p.project_id !== args.projectId) || !canSee(caller, n)) throw new InvalidError(`Port id ${item.port} could not be found.`)
        if (p.device_id !== '' && p.device_id !== args.instanceUuid) throw new ConflictError(`Port ${item.port} is still in use.`)
        pin(n)
        ports.push(p)
      } else {
        const n = await this.#s.db.selectFrom('networks').selectAll().where('id', '=', item.uuid).executeTakeFirst()
        if (n === undefined || !canSee(caller, n)) throw new InvalidError(`Network ${item.uuid} could not be found.`)
        if (item.fixedIp !== undefined && canonicalAddress(item.fixedIp) === undefined) throw new InvalidError(`Invalid fixed IP address (${item.fixedIp})`)
        pin(n)
        networks.set(n.id, n)
      }
    }
    const base = Date.now()
    let order = 0
    for (const item of items) {
      order += 1
      if ('port' in item) {
        const claimed = await this.#s.db
          .updateTable('ports')
          .set({ device_id: args.instanceUuid, device_owner: DEVICE_OWNER, created_at: base + order, updated_at: Date.now() })
          .where('id', '=', item.port)
          .where('device_id', '=', '')
          .executeTakeFirst()
        if (Number(claimed.numUpdatedRows) === 0) throw new ConflictError(`Port ${item.port} is still in use.`)
      } else {
        await this.#create(caller, args, networks.get(item.uuid)!, item.fixedIp, order, base)
      }
    }
    return region
  }

  async #create(caller: NetCaller, args: ServerAllocateArgs, n: NetworkTable, fixedIp: string | undefined, order: number, base = Date.now()): Promise<void> {
    await this.#s.ports.createPort(
      // The project's view of a shared network lets it create a port there.
      { ...caller, region: null },
      {
        networkId: n.id,
        deviceId: args.instanceUuid,
        deviceOwner: DEVICE_OWNER,
        // Ids resolved by allocateForServer (empty without security groups mounted).
        securityGroups: args.securityGroups,
        ...(fixedIp === undefined ? {} : { fixedIps: [{ ipAddress: fixedIp }] }),
      },
      { instanceUuid: args.instanceUuid, createdAt: base + order },
    )
  }

  /** {@link NetworkAllocator.bind}: `binding:host_id` set, status ACTIVE. */
  async bind(args: { readonly instanceUuid: string; readonly host: string }): Promise<void> {
    await this.#s.db.updateTable('ports').set({ binding_host_id: args.host, status: 'ACTIVE', updated_at: Date.now() }).where('device_id', '=', args.instanceUuid).execute()
  }

  /** {@link NetworkAllocator.release}: deletes the ports made for the server, unclaims the others. */
  async release(args: { readonly instanceUuid: string }): Promise<void> {
    for (const p of await this.#portsOf([args.instanceUuid])) {
      if (p.created_for === args.instanceUuid) await this.#s.ports.removeForInstance(p.id)
      else {
        await this.#s.db
          .updateTable('ports')
          .set({ device_id: '', device_owner: '', binding_host_id: '', status: 'DOWN', updated_at: Date.now() })
          .where('id', '=', p.id)
          .where('device_id', '=', args.instanceUuid)
          .execute()
      }
    }
  }

  /** {@link NetworkAllocator.interfacesOf}: three queries for any number of servers. */
  async interfacesOf(instanceUuids: readonly string[]): Promise<ReadonlyMap<string, NetworkInfo>> {
    const ports = await this.#portsOf(instanceUuids)
    const info = await this.#infoOf(ports)
    const out = new Map<string, PortInfo[]>()
    ports.forEach((p, i) => out.set(p.device_id, [...(out.get(p.device_id) ?? []), info[i]!]))
    return out
  }

  /** {@link AddressLookup.instanceByAddress}: the instance whose port holds a fixed address. */
  async instanceByAddress(args: { readonly ipAddress: string; readonly region?: string }): Promise<{ readonly instanceUuid: string; readonly projectId: string } | undefined> {
    const ip = canonicalAddress(args.ipAddress)
    if (ip === undefined) return undefined
    const rows = await this.#s.db
      .selectFrom('ip_allocations')
      .innerJoin('ports', 'ports.id', 'ip_allocations.port_id')
      .innerJoin('networks', 'networks.id', 'ports.network_id')
      .select(['ports.device_id', 'ports.device_owner', 'ports.project_id', 'networks.region'])
      .where('ip_allocations.ip_address', '=', ip)
      .execute()
    const hit = rows.find((r) => r.device_owner.startsWith('compute:') && r.device_id !== '' && (args.region === undefined || r.region === null || r.region === args.region))
    return hit === undefined ? undefined : { instanceUuid: hit.device_id, projectId: hit.project_id }
  }

  /**
   * The names of the security groups of each server's ports (Nova's server `security_groups`),
   * by instance uuid; servers without ports are left out. Empty without security groups mounted.
   */
  async securityGroupNamesOf(instanceUuids: readonly string[]): Promise<ReadonlyMap<string, readonly string[]>> {
    const out = new Map<string, string[]>()
    if (this.#s.security === undefined) return out
    const ports = await this.#portsOf(instanceUuids)
    const names = await this.#s.security.namesOf(ports.map((p) => p.id))
    for (const p of ports) out.set(p.device_id, [...new Set([...(out.get(p.device_id) ?? []), ...(names.get(p.id) ?? [])])])
    return out
  }

  async #portsOf(instanceUuids: readonly string[]): Promise<PortTable[]> {
    if (instanceUuids.length === 0) return []
    return this.#s.db.selectFrom('ports').selectAll().where('device_id', 'in', [...instanceUuids]).orderBy('created_at').orderBy('id').execute()
  }

  async #regionOfPorts(ports: readonly PortTable[]): Promise<string | null> {
    const rows = await this.#s.db.selectFrom('networks').select('region').where('id', 'in', ports.map((p) => p.network_id)).execute()
    return rows.find((r) => r.region !== null)?.region ?? null
  }

  /** PortInfo of each port, in order. */
  async #infoOf(ports: readonly PortTable[]): Promise<PortInfo[]> {
    if (ports.length === 0) return []
    const networks = new Map((await this.#s.db.selectFrom('networks').selectAll().where('id', 'in', [...new Set(ports.map((p) => p.network_id))]).execute()).map((n) => [n.id, n]))
    const ips = await this.#s.ports.fixedIpsOf(ports.map((p) => p.id))
    const rules = this.#s.security === undefined ? new Map<string, SecurityRuleInfo[]>() : await this.#s.security.rulesOf(ports.map((p) => p.id))
    const subnetIds = [...new Set([...ips.values()].flat().map((f) => f.subnet_id))]
    const subnets = new Map(subnetIds.length === 0 ? [] : (await this.#s.db.selectFrom('subnets').selectAll().where('id', 'in', subnetIds).execute()).map((s) => [s.id, s]))
    return ports.map((p) => {
      const n = networks.get(p.network_id)
      const fixedIps: FixedIpInfo[] = (ips.get(p.id) ?? []).flatMap((f) => {
        const s = subnets.get(f.subnet_id)
        if (s === undefined) return []
        return [{
          subnetId: s.id,
          ipAddress: f.ip_address,
          version: s.ip_version as IpVersion,
          cidr: s.cidr,
          ...(s.gateway_ip === null ? {} : { gatewayIp: s.gateway_ip }),
          dnsNameservers: JSON.parse(s.dns_nameservers) as string[],
          hostRoutes: JSON.parse(s.host_routes) as HostRoute[],
        }]
      })
      return {
        portId: p.id,
        networkId: p.network_id,
        networkName: n?.name ?? '',
        macAddress: p.mac_address,
        mtu: n?.mtu ?? 1450,
        bridge: `br-${p.network_id.slice(0, 11)}`,
        fixedIps,
        portSecurityEnabled: p.port_security_enabled === 1,
        securityRules: p.port_security_enabled === 1 ? (rules.get(p.id) ?? []) : [],
      }
    })
  }
}

/** Neutron's conditions in Nova's words and statuses (what `POST /servers` answers). */
function toNova(err: unknown): unknown {
  if (!(err instanceof AppError) || !err.code.startsWith('neutron_')) return err
  const type = err.code.slice('neutron_'.length)
  if (type === 'SecurityGroupNotFound') return new InvalidError(err.message.replace(/^Security group (.*) does not exist$/, 'Security group $1 not found.'))
  if (type === 'NoUniqueMatch') return new ConflictError(err.message)
  if (type === 'OverQuota') return new OverQuotaError('Maximum number of ports exceeded')
  if (type === 'IpAddressAlreadyAllocated') return new InvalidError(err.message.replace(/^IP address (\S+) already allocated.*$/, 'Fixed IP address $1 is already in use.'))
  if (type === 'IpAddressGenerationFailure') return new ConflictError(`No more available fixed IPs: ${err.message}`)
  if (err.status === 400) return new InvalidError(err.message)
  return err
}
