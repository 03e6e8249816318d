import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PortAllocator } from '../../../../api-cell/network/allocator.js'
import { seedRegionNetworks } from '../../../../api-cell/network/bootstrap.js'
import { FloatingIpStore } from '../../../../api-cell/network/floating-ips/floating-ip-store.js'
import { floatingIpMigrations } from '../../../../api-cell/network/floating-ips/migrations.js'
import { networkMigrations } from '../../../../api-cell/network/migrations.js'
import { PortNetworkDirectory } from '../../../../api-cell/network/port-directory.js'
import { PortSecurity } from '../../../../api-cell/network/port-security.js'
import { securityGroupMigrations } from '../../../../api-cell/network/security-groups/migrations.js'
import { createRule } from '../../../../api-cell/network/security-groups/rule-store.js'
import { validateRule } from '../../../../api-cell/network/security-groups/rule-validation.js'
import { SecurityGroupStore } from '../../../../api-cell/network/security-groups/security-group-store.js'
import type { AllNetworkTables } from '../../../../api-cell/network/security-wiring.js'
import { NetworkService } from '../../../../api-cell/network/service.js'
import type { AppError } from '../../../../shared/errors.js'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'

const VM = '11111111-1111-4111-8111-111111111111'

/** The port service with security groups and floating IPs over one SQLite database. */
describe('ports, security groups and floating IPs over one database', () => {
  let d: Database<AllNetworkTables>
  let s: NetworkService
  let groups: SecurityGroupStore
  let fips: FloatingIpStore
  let alloc: PortAllocator
  const alice = { projectId: 'alice', isAdmin: false, region: 'r1' }
  const admin = { projectId: 'admin', isAdmin: true, region: null }

  beforeEach(async () => {
    d = await openDatabase<AllNetworkTables>('sqlite::memory:')
    await migrateToLatest(d.db, { ...networkMigrations, ...securityGroupMigrations, ...floatingIpMigrations })
    groups = new SecurityGroupStore({ db: d.db })
    fips = new FloatingIpStore({ db: d.db, directory: new PortNetworkDirectory(d.db) })
    s = new NetworkService(d.db, { security: new PortSecurity({ db: d.db, groups, floatingIps: fips }) })
    await seedRegionNetworks(s, 'admin', ['r1'])
    alloc = new PortAllocator(s)
  })
  afterEach(async () => {
    await d.close()
  })

  it('binds a boot’s groups to its ports and hands their rules to the host; an unknown group allocates nothing', async () => {
    const web = await groups.create(alice, { name: 'web', description: '' })
    await createRule(groups, alice, validateRule({ security_group_id: web.group.id, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22 }))
    const bad = await alloc.allocateForServer({ projectId: 'alice', instanceUuid: VM, request: { kind: 'auto' }, securityGroups: ['web', 'nope'], region: 'r1' }).catch((e: unknown) => e as AppError)
    expect(bad).toMatchObject({ status: 400, message: 'Security group nope not found.' })
    expect(await d.db.selectFrom('ports').select('id').execute()).toEqual([])
    // Checked whatever the networks, as Nova does.
    await expect(alloc.allocate({ projectId: 'alice', instanceUuid: VM, request: { kind: 'none' }, securityGroups: ['nope'] })).rejects.toMatchObject({ status: 400 })

    const [port] = await alloc.allocate({ projectId: 'alice', instanceUuid: VM, request: { kind: 'auto' }, securityGroups: ['web'] })
    expect(port?.securityRules).toEqual(expect.arrayContaining([{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22, remoteIpPrefix: null }]))
    expect((await s.ports.groupsOf([await s.ports.getPort(alice, port!.portId)])).get(port!.portId)).toEqual([web.group.id])
    expect((await alloc.securityGroupNamesOf([VM])).get(VM)).toEqual(['web'])
    await alloc.release({ instanceUuid: VM })
    expect(await d.db.selectFrom('securitygroupportbindings').selectAll().execute()).toEqual([])
  })

  it('gives a port created without groups the project’s default, and one without port security none', async () => {
    const net = (await s.networks.listNetworks({ ...alice, isAdmin: false })).find((n) => n.name === 'r1-net')!
    const p = await s.ports.createPort(alice, { networkId: net.id })
    const bare = await s.ports.createPort(alice, { networkId: net.id, portSecurityEnabled: false })
    const g = await s.ports.groupsOf([p, bare])
    const def = await groups.resolve(alice, ['default'])
    expect(g.get(p.id)).toEqual(def)
    expect(g.get(bare.id)).toEqual([])
  })

  it('never gives one address to a port and a floating IP, allocated at the same time', async () => {
    const ext = await s.networks.createNetwork(admin, { name: 'public', external: true })
    // Five addresses: .2 to .6.
    await s.networks.createSubnet(admin, { networkId: ext.id, cidr: '198.51.100.0/29', ipVersion: 4 })
    const results = await Promise.allSettled([
      ...[1, 2, 3].map(() => fips.create(alice, { networkId: ext.id, description: '' }).then((f) => f.floating_ip_address)),
      ...[1, 2, 3].map(async () => {
        const p = await s.ports.createPort(admin, { networkId: ext.id, deviceOwner: 'network:router_gateway' })
        return (await s.ports.fixedIpsOf([p.id])).get(p.id)![0]!.ip_address
      }),
    ])
    const got = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    expect(got).toHaveLength(5)
    expect(new Set(got).size).toBe(5)
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1)
    // Deleting a floating IP frees its address for a port.
    const fip = (await fips.list(alice))[0]!
    await fips.delete(alice, fip.id)
    const p = await s.ports.createPort(admin, { networkId: ext.id, fixedIps: [{ ipAddress: fip.floating_ip_address }], deviceOwner: 'network:router_gateway' })
    expect((await s.ports.fixedIpsOf([p.id])).get(p.id)![0]!.ip_address).toBe(fip.floating_ip_address)
  })
})
