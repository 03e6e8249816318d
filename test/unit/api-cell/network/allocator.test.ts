import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PortAllocator } from '../../../../api-cell/network/allocator.js'
import { seedRegionNetworks } from '../../../../api-cell/network/bootstrap.js'
import { networkMigrations } from '../../../../api-cell/network/migrations.js'
import type { NetworkTables } from '../../../../api-cell/network/schema.js'
import { NetworkService } from '../../../../api-cell/network/service.js'
import type { AppError } from '../../../../shared/errors.js'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'

const VM = '11111111-1111-4111-8111-111111111111'
const VM2 = '22222222-2222-4222-8222-222222222222'

describe('the port allocator', () => {
  let d: Database<NetworkTables>
  let s: NetworkService
  let alloc: PortAllocator
  const alice = { projectId: 'alice', isAdmin: false, region: 'r1' }

  beforeEach(async () => {
    d = await openDatabase<NetworkTables>('sqlite::memory:')
    await migrateToLatest(d.db, networkMigrations)
    s = new NetworkService(d.db)
    await seedRegionNetworks(s, 'admin', ['r1', 'r2'])
    // Idempotent: a second start creates nothing more.
    await seedRegionNetworks(s, 'admin', ['r1', 'r2'])
    alloc = new PortAllocator(s)
  })
  afterEach(async () => {
    await d.close()
  })

  it('seeds one network per region and a federation-wide one, once', async () => {
    const rows = await d.db.selectFrom('networks').select(['name', 'region']).orderBy('name').execute()
    expect(rows).toEqual([
      { name: 'federation-net', region: null },
      { name: 'r1-net', region: 'r1' },
      { name: 'r2-net', region: 'r2' },
    ])
  })

  it('allocates auto on the region network, idempotently by instance, and releases exactly once', async () => {
    const a = await alloc.allocateForServer({ projectId: 'alice', instanceUuid: VM, request: { kind: 'auto' }, securityGroups: [], region: 'r1' })
    expect(a.region).toBe('r1')
    expect(a.networkInfo).toHaveLength(1)
    const port = a.networkInfo[0]!
    expect(port).toMatchObject({ networkName: 'r1-net', mtu: 1450, portSecurityEnabled: true, securityRules: [], bridge: `br-${port.networkId.slice(0, 11)}` })
    expect(port.fixedIps[0]).toMatchObject({ version: 4, cidr: '10.1.0.0/16', gatewayIp: '10.1.0.1' })
    const again = await alloc.allocate({ projectId: 'alice', instanceUuid: VM, request: { kind: 'auto' }, securityGroups: [] })
    expect(again).toEqual(a.networkInfo)
    await alloc.bind({ instanceUuid: VM, host: 'h1' })
    expect((await d.db.selectFrom('ports').select(['status', 'binding_host_id']).executeTakeFirst())).toEqual({ status: 'ACTIVE', binding_host_id: 'h1' })
    expect((await alloc.interfacesOf([VM, VM2])).get(VM)).toEqual(a.networkInfo)
    await alloc.release({ instanceUuid: VM })
    await alloc.release({ instanceUuid: VM })
    expect(await d.db.selectFrom('ports').select('id').execute()).toEqual([])
    expect(await d.db.selectFrom('ip_allocations').select('ip_address').execute()).toEqual([])
  })

  it('claims a given port, refuses it to a second server, and only unbinds it on release', async () => {
    const net = await s.networks.createNetwork(alice, { name: 'own' })
    await s.networks.createSubnet(alice, { networkId: net.id, cidr: '192.168.3.0/24', ipVersion: 4 })
    const p = await s.ports.createPort(alice, { networkId: net.id })
    const a = await alloc.allocateForServer({ projectId: 'alice', instanceUuid: VM, request: { kind: 'list', items: [{ port: p.id }] }, securityGroups: [] })
    expect(a.networkInfo.map((i) => i.portId)).toEqual([p.id])
    expect(a.region).toBe('r1')
    const busy = await alloc.allocate({ projectId: 'alice', instanceUuid: VM2, request: { kind: 'list', items: [{ port: p.id }] }, securityGroups: [] }).catch((e: unknown) => e)
    expect((busy as AppError).status).toBe(409)
    const foreign = await alloc.allocate({ projectId: 'bob', instanceUuid: VM2, request: { kind: 'list', items: [{ port: p.id }] }, securityGroups: [] }).catch((e: unknown) => e)
    expect((foreign as AppError).status).toBe(400)
    await alloc.release({ instanceUuid: VM })
    expect(await d.db.selectFrom('ports').select(['id', 'device_id', 'device_owner']).execute()).toEqual([{ id: p.id, device_id: '', device_owner: '' }])
  })

  it('allocates nothing when one item of a request fails', async () => {
    const r1 = await d.db.selectFrom('networks').select('id').where('name', '=', 'r1-net').executeTakeFirstOrThrow()
    const r2 = await d.db.selectFrom('networks').select('id').where('name', '=', 'r2-net').executeTakeFirstOrThrow()
    const mixed = await alloc
      .allocate({ projectId: 'alice', instanceUuid: VM, request: { kind: 'list', items: [{ uuid: r1.id }, { uuid: r2.id }] }, securityGroups: [] })
      .catch((e: unknown) => e)
    expect((mixed as AppError).status).toBe(400)
    await alloc.allocate({ projectId: 'alice', instanceUuid: VM2, request: { kind: 'list', items: [{ uuid: r1.id, fixedIp: '10.1.0.9' }] }, securityGroups: [] })
    const taken = await alloc
      .allocate({ projectId: 'alice', instanceUuid: VM, request: { kind: 'list', items: [{ uuid: r1.id }, { uuid: r1.id, fixedIp: '10.1.0.9' }] }, securityGroups: [] })
      .catch((e: unknown) => e)
    expect((taken as AppError).status).toBe(400)
    expect(await d.db.selectFrom('ports').select('device_id').execute()).toEqual([{ device_id: VM2 }])
    expect(await alloc.instanceByAddress({ ipAddress: '10.1.0.9', region: 'r1' })).toEqual({ instanceUuid: VM2, projectId: 'alice' })
    expect(await alloc.instanceByAddress({ ipAddress: '10.1.0.9', region: 'r2' })).toBeUndefined()
  })

  it('answers none with no interfaces, and auto without any network with a 400', async () => {
    expect(await alloc.allocate({ projectId: 'alice', instanceUuid: VM, request: { kind: 'none' }, securityGroups: [] })).toEqual([])
    await d.db.deleteFrom('subnets').execute()
    await d.db.deleteFrom('networks').execute()
    const none = await alloc.allocate({ projectId: 'alice', instanceUuid: VM2, request: { kind: 'auto' }, securityGroups: [] }).catch((e: unknown) => e)
    expect((none as AppError).status).toBe(400)
  })
})
