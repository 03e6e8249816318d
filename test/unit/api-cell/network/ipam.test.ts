import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'
import { networkMigrations } from '../../../../api-cell/network/migrations.js'
import type { NetworkTables } from '../../../../api-cell/network/schema.js'
import { NetworkService } from '../../../../api-cell/network/service.js'
import { NeutronError } from '../../../../api-cell/network/faults.js'
import { ipamRace } from '../../../helpers/network-ipam.js'

describe('IPAM on SQLite', () => {
  let d: Database<NetworkTables>
  beforeEach(async () => {
    d = await openDatabase<NetworkTables>('sqlite::memory:')
    await migrateToLatest(d.db, networkMigrations)
  })
  afterEach(async () => {
    await d.close()
  })

  it('gives 200 concurrent port creates distinct addresses and answers 409 when the pool is exhausted', async () => {
    await ipamRace(d.db, 200, 150)
  })

  it('fills a pool exactly and never hands out the gateway', async () => {
    const s = new NetworkService(d.db)
    const caller = { projectId: 'p', isAdmin: false, region: null }
    const net = await s.networks.createNetwork(caller, { name: 'tiny' })
    const sub = await s.networks.createSubnet(caller, { networkId: net.id, cidr: '192.168.0.0/29', ipVersion: 4 })
    const got: string[] = []
    for (let i = 0; i < 5; i += 1) {
      const p = await s.ports.createPort(caller, { networkId: net.id })
      got.push(...((await s.ports.fixedIpsOf([p.id])).get(p.id) ?? []).map((f) => f.ip_address))
    }
    expect(got.sort()).toEqual(['192.168.0.2', '192.168.0.3', '192.168.0.4', '192.168.0.5', '192.168.0.6'])
    const err = await s.ports.createPort(caller, { networkId: net.id }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NeutronError)
    expect((err as NeutronError).type).toBe('IpAddressGenerationFailure')
    const gw = await s.ports.createPort(caller, { networkId: net.id, fixedIps: [{ subnetId: sub.id, ipAddress: '192.168.0.1' }] }).catch((e: unknown) => e)
    expect((gw as NeutronError).status).toBe(400)
    // A failed create leaves no port behind.
    expect((await d.db.selectFrom('ports').select('id').execute()).length).toBe(5)
  })

  it('allocates IPv6 addresses in canonical form and compares typed variants as one', async () => {
    const s = new NetworkService(d.db)
    const caller = { projectId: 'p', isAdmin: false, region: null }
    const net = await s.networks.createNetwork(caller, { name: 'v6' })
    const sub = await s.networks.createSubnet(caller, { networkId: net.id, cidr: 'fd00::/64', ipVersion: 6 })
    const p = await s.ports.createPort(caller, { networkId: net.id, fixedIps: [{ subnetId: sub.id, ipAddress: 'fd00:0000::00a' }] })
    expect((await s.ports.fixedIpsOf([p.id])).get(p.id)).toEqual([{ subnet_id: sub.id, ip_address: 'fd00::a' }])
    const dup = await s.ports.createPort(caller, { networkId: net.id, fixedIps: [{ ipAddress: 'FD00::A' }] }).catch((e: unknown) => e)
    expect((dup as NeutronError).type).toBe('IpAddressAlreadyAllocated')
  })
})
