import { randomInt } from 'node:crypto'
import type { Kysely } from 'kysely'
import { isDuplicateKey } from '../../shared/db/database.js'
import type { IpVersion } from '../../shared/network/network-info.js'
import { badRequest, NeutronError } from './faults.js'
import { contains, formatAddress, lastOf, parseAddress, parseCidr } from './ip-math.js'
import type { NetworkTables, SubnetTable } from './schema.js'
import type { PoolView } from './subnet-model.js'
import { rangesOf } from './subnet-model.js'

/** How many free addresses a pick chooses among at random (fewer collisions under concurrency). */
const CANDIDATES = 32
/** Inserts tried before giving up on a subnet that still looks free (heavy contention). */
const MAX_ATTEMPTS = 200

/**
 * Race-free IP address management: the database, not this process, decides who holds an address.
 * An allocation picks a free address and inserts it into `ip_allocations`, whose primary key is
 * (subnet_id, ip_address); a concurrent writer that took it first makes the insert fail with a
 * unique violation, and the pick is tried again with a fresh view. Any number of API processes
 * may allocate on one subnet at once and no address is ever held twice. Releasing deletes the
 * port's rows: a second release finds none, so an address is freed exactly once.
 */
export class Ipam {
  readonly #db: Kysely<NetworkTables>

  constructor(db: Kysely<NetworkTables>) {
    this.#db = db
  }

  /**
   * Gives `portId` one address of `subnet`: `ipAddress` when asked (400 outside the subnet or on
   * its gateway/network/broadcast address, 409 `IpAddressAlreadyAllocated` when held), else any
   * free pool address (409 `IpAddressGenerationFailure` when none is left). Returns its text.
   */
  async allocate(args: { readonly subnet: SubnetTable; readonly portId: string; readonly ipAddress?: string }): Promise<string> {
    const { subnet } = args
    if (args.ipAddress !== undefined) return this.#allocateFixed(subnet, args.portId, args.ipAddress)
    const version = subnet.ip_version as IpVersion
    const ranges = rangesOf(version, JSON.parse(subnet.allocation_pools) as PoolView[])
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const held = new Set((await this.#db.selectFrom('ip_allocations').select('ip_address').where('subnet_id', '=', subnet.id).execute()).map((r) => r.ip_address))
      const free: bigint[] = []
      for (const r of ranges) {
        for (let v = r.start; v <= r.end && free.length < CANDIDATES; v += 1n) {
          if (!held.has(formatAddress({ version, value: v }))) free.push(v)
        }
        if (free.length >= CANDIDATES) break
      }
      if (free.length === 0) break
      const ip = formatAddress({ version, value: free[randomInt(free.length)]! })
      if (await this.#insert(subnet, args.portId, ip)) return ip
    }
    throw new NeutronError({ type: 'IpAddressGenerationFailure', status: 409, message: `No more IP addresses available on network ${subnet.network_id}.` })
  }

  async #allocateFixed(subnet: SubnetTable, portId: string, requested: string): Promise<string> {
    const cidr = parseCidr(subnet.cidr)
    const a = parseAddress(requested)
    if (cidr === undefined || a === undefined || !contains(cidr, a)) {
      throw badRequest(`IP address ${requested} is not a valid IP for the specified subnet.`, 'InvalidIpForSubnet')
    }
    const ip = formatAddress(a)
    const reserved = cidr.version === 4 && cidr.prefix < 31 && (a.value === cidr.network || a.value === lastOf(cidr))
    if (reserved || ip === subnet.gateway_ip) throw badRequest(`IP address ${requested} is not a valid IP for the specified subnet.`, 'InvalidIpForSubnet')
    if (!(await this.#insert(subnet, portId, ip))) {
      throw new NeutronError({ type: 'IpAddressAlreadyAllocated', status: 409, message: `IP address ${ip} already allocated in subnet ${subnet.id}` })
    }
    return ip
  }

  /** Inserts one allocation; false when another port holds the address. */
  async #insert(subnet: SubnetTable, portId: string, ip: string): Promise<boolean> {
    try {
      await this.#db.insertInto('ip_allocations').values({ subnet_id: subnet.id, ip_address: ip, port_id: portId, network_id: subnet.network_id, created_at: Date.now() }).execute()
      return true
    } catch (err) {
      if (isDuplicateKey(err)) return false
      throw err
    }
  }

  /** Frees every address of a port (idempotent); returns how many were freed by this call. */
  async releasePort(portId: string): Promise<number> {
    const r = await this.#db.deleteFrom('ip_allocations').where('port_id', '=', portId).executeTakeFirst()
    return Number(r.numDeletedRows)
  }

  /** Frees one address of a port (a fixed_ips update that drops it). */
  async releaseAddress(portId: string, subnetId: string, ip: string): Promise<void> {
    await this.#db.deleteFrom('ip_allocations').where('port_id', '=', portId).where('subnet_id', '=', subnetId).where('ip_address', '=', ip).execute()
  }
}
