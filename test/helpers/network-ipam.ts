import { expect } from 'vitest'
import type { Kysely } from 'kysely'
import { NeutronError } from '../../api-cell/network/faults.js'
import type { NetCaller } from '../../api-cell/network/caller.js'
import type { NetworkTables } from '../../api-cell/network/schema.js'
import { NetworkService } from '../../api-cell/network/service.js'

/**
 * The IPAM race, for every database dialect: `count` concurrent port creates on one subnet whose
 * pool holds `poolSize` addresses. No address may be given twice, exactly `min(count, poolSize)`
 * ports must exist after, and every other create must answer 409 `IpAddressGenerationFailure`
 * having left no port behind.
 */
export async function ipamRace(db: Kysely<NetworkTables>, count: number, poolSize: number): Promise<void> {
  const service = new NetworkService(db)
  const caller: NetCaller = { projectId: 'race-project', isAdmin: false, region: null }
  await service.quotas.set('race-project', { port: -1 })
  const net = await service.networks.createNetwork(caller, { name: 'race' })
  const subnet = await service.networks.createSubnet(caller, {
    networkId: net.id,
    cidr: '10.200.0.0/24',
    ipVersion: 4,
    allocationPools: [{ start: '10.200.0.10', end: `10.200.0.${9 + poolSize}` }],
  })
  const results = await Promise.allSettled(Array.from({ length: count }, () => service.ports.createPort(caller, { networkId: net.id })))
  const created = results.filter((r) => r.status === 'fulfilled')
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  expect(created.length).toBe(Math.min(count, poolSize))
  for (const f of failed) {
    expect(f.reason).toBeInstanceOf(NeutronError)
    expect((f.reason as NeutronError).type).toBe('IpAddressGenerationFailure')
    expect((f.reason as NeutronError).status).toBe(409)
  }
  const rows = await db.selectFrom('ip_allocations').select(['ip_address', 'port_id']).where('subnet_id', '=', subnet.id).execute()
  expect(new Set(rows.map((r) => r.ip_address)).size).toBe(rows.length)
  expect(rows.length).toBe(created.length)
  const ports = await db.selectFrom('ports').select('id').where('network_id', '=', net.id).execute()
  expect(ports.length).toBe(created.length)
  // Deleting frees exactly once: a second release finds nothing.
  const first = ports[0]!.id
  expect(await service.ipam.releasePort(first)).toBe(1)
  expect(await service.ipam.releasePort(first)).toBe(0)
}
