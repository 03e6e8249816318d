import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FloatingIpStore } from '../../api-cell/network/floating-ips/floating-ip-store.js'
import { floatingIpMigrations } from '../../api-cell/network/floating-ips/migrations.js'
import { networkMigrations } from '../../api-cell/network/migrations.js'
import { PortNetworkDirectory } from '../../api-cell/network/port-directory.js'
import { PortSecurity } from '../../api-cell/network/port-security.js'
import { securityGroupMigrations } from '../../api-cell/network/security-groups/migrations.js'
import { SecurityGroupStore } from '../../api-cell/network/security-groups/security-group-store.js'
import type { AllNetworkTables } from '../../api-cell/network/security-wiring.js'
import { NetworkService } from '../../api-cell/network/service.js'
import type { Database } from '../../shared/db/database.js'
import { dropMysqlSchema, migrateToLatest, openDatabase } from '../../shared/db/database.js'

/**
 * Ports and floating IPs of one external network allocated at once by three "API processes" (one
 * pool each) on MariaDB: the one (subnet, address) key of `ip_allocations` gives each address once.
 */
describe('MariaDB: ports and floating IPs share one address key', () => {
  const url = `mysql://root@127.0.0.1:3306/wtn5_net_${randomBytes(5).toString('hex')}?pool=4`
  const handles: Database<AllNetworkTables>[] = []

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) handles.push(await openDatabase<AllNetworkTables>(url))
    await migrateToLatest(handles[0]!.db, { ...networkMigrations, ...securityGroupMigrations, ...floatingIpMigrations })
  })
  afterAll(async () => {
    for (const h of handles) await h.close()
    await dropMysqlSchema(url)
  })

  it('gives every address of a small pool once, to a port or a floating IP, under concurrent allocations', async () => {
    const services = handles.map((h) => {
      const groups = new SecurityGroupStore({ db: h.db })
      const fips = new FloatingIpStore({ db: h.db, directory: new PortNetworkDirectory(h.db) })
      return { fips, net: new NetworkService(h.db, { security: new PortSecurity({ db: h.db, groups, floatingIps: fips }) }) }
    })
    const admin = { projectId: 'admin', isAdmin: true, region: null }
    const first = services[0]!
    const ext = await first.net.networks.createNetwork(admin, { name: 'public', external: true })
    // Thirteen addresses: .2 to .14.
    await first.net.networks.createSubnet(admin, { networkId: ext.id, cidr: '198.51.100.0/28', ipVersion: 4 })
    const results = await Promise.allSettled(
      Array.from({ length: 18 }, async (_, i) => {
        const s = services[i % services.length]!
        if (i % 2 === 0) return (await s.fips.create({ projectId: `p${i}`, isAdmin: false }, { networkId: ext.id, description: '' })).floating_ip_address
        const p = await s.net.ports.createPort(admin, { networkId: ext.id, deviceOwner: 'network:router_gateway' })
        return (await s.net.ports.fixedIpsOf([p.id])).get(p.id)![0]!.ip_address
      }),
    )
    const got = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    expect(got).toHaveLength(13)
    expect(new Set(got).size).toBe(13)
    const rows = await first.net.db.selectFrom('ip_allocations').select('ip_address').where('network_id', '=', ext.id).execute()
    expect(rows).toHaveLength(13)
  })
})
