import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FloatingIpStore } from '../../api-cell/network/floating-ips/floating-ip-store.js'
import { NeutronFault } from '../../api-cell/network/security-groups/neutron-faults.js'
import type { NetworkQuotaLimits } from '../../api-cell/network/security-groups/network-quotas.js'
import { NEUTRON_DEFAULT_QUOTAS } from '../../api-cell/network/security-groups/network-quotas.js'
import { setPortGroups } from '../../api-cell/network/security-groups/port-bindings.js'
import { createRule } from '../../api-cell/network/security-groups/rule-store.js'
import { validateRule } from '../../api-cell/network/security-groups/rule-validation.js'
import { SecurityGroupStore } from '../../api-cell/network/security-groups/security-group-store.js'
import type { Database } from '../../shared/db/database.js'
import { dropMysqlSchema, openDatabase } from '../../shared/db/database.js'
import { MapDirectory, networkDatabase } from '../helpers/network-app.js'

/**
 * Races on MariaDB between what would be several API processes (one pool each): the first uses of
 * a project make exactly one default group, one rule created many times at once is stored once,
 * quotas hold under a burst, and concurrent floating IP allocations never share an address.
 */
describe('MariaDB: security groups and floating IPs under concurrency', () => {
  const url = `mysql://root@127.0.0.1:3306/wtn2_net_${randomBytes(5).toString('hex')}?pool=4`
  const handles: Database<any>[] = []

  beforeAll(async () => {
    const { database } = await networkDatabase(url)
    handles.push(database)
    // Two more "API processes" on the same schema.
    for (let i = 0; i < 2; i++) handles.push(await openDatabase<any>(url))
  })
  afterAll(async () => {
    for (const h of handles) await h.close()
    await dropMysqlSchema(url)
  })
  const stores = (limits?: NetworkQuotaLimits) => handles.map((h) => new SecurityGroupStore({ db: h.db, ...(limits === undefined ? {} : { limits }) }))

  it('creates exactly one default group for concurrent first uses of a project', async () => {
    const all = stores()
    const ids = await Promise.all(Array.from({ length: 24 }, (_, i) => (all[i % all.length] as SecurityGroupStore).ensureDefault('race-project')))
    expect(new Set(ids).size).toBe(1)
    const db = (handles[0] as Database<any>).db
    const groups = await db.selectFrom('securitygroups').selectAll().where('project_id', '=', 'race-project').execute()
    expect(groups).toHaveLength(1)
    expect(groups[0]?.id).toBe(ids[0])
    const rules = await db.selectFrom('securitygrouprules').selectAll().where('security_group_id', '=', ids[0] as string).execute()
    expect(rules).toHaveLength(4)
  })

  it('stores one rule created many times at once; the others are 409 SecurityGroupRuleExists', async () => {
    const all = stores()
    const caller = { projectId: 'rule-project', isAdmin: false }
    const g = await (all[0] as SecurityGroupStore).create(caller, { name: 'web', description: '' })
    const body = { security_group_id: g.group.id, direction: 'ingress', protocol: 'tcp', port_range_min: 443, port_range_max: 443 }
    const outcomes = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => createRule(all[i % all.length] as SecurityGroupStore, caller, validateRule(body))))
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
    for (const o of outcomes) {
      if (o.status === 'rejected') expect(o.reason).toMatchObject({ status: 409, type: 'SecurityGroupRuleExists' })
    }
    const db = (handles[0] as Database<any>).db
    const rows = await db.selectFrom('securitygrouprules').select('id').where('security_group_id', '=', g.group.id).where('protocol', '=', 'tcp').execute()
    expect(rows).toHaveLength(1)
  })

  it('never both deletes a group and binds a port to it when the two race', async () => {
    const [one, two] = stores()
    if (one === undefined || two === undefined) throw new Error('stores')
    const caller = { projectId: 'bind-project', isAdmin: false }
    const db = (handles[0] as Database<any>).db
    for (let i = 0; i < 8; i++) {
      const g = await one.create(caller, { name: `g${i}`, description: '' })
      const [del, bind] = await Promise.allSettled([one.delete(caller, g.group.id), setPortGroups(two.db, `port-${i}`, [g.group.id])])
      expect(del.status === 'fulfilled' && bind.status === 'fulfilled').toBe(false)
      const group = await db.selectFrom('securitygroups').select('id').where('id', '=', g.group.id).executeTakeFirst()
      const bound = await db.selectFrom('securitygroupportbindings').select('port_id').where('security_group_id', '=', g.group.id).execute()
      if (del.status === 'fulfilled') {
        expect(group).toBeUndefined()
        expect(bind).toMatchObject({ status: 'rejected', reason: { status: 404 } })
      } else {
        expect(del.reason).toMatchObject({ status: 409, type: 'SecurityGroupInUse' })
        expect(group).toBeDefined()
        expect(bound).toHaveLength(1)
      }
      await setPortGroups(db, `port-${i}`, [])
    }
  })

  it('holds the security_group quota under a burst of creates', async () => {
    const limits: NetworkQuotaLimits = { limitOf: (_p, r) => Promise.resolve(r === 'security_group' ? 4 : NEUTRON_DEFAULT_QUOTAS[r]) }
    const all = stores(limits)
    const caller = { projectId: 'quota-project', isAdmin: false }
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => (all[i % all.length] as SecurityGroupStore).create(caller, { name: `g${i}`, description: '' })))
    // The default group counts: 3 more fit.
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3)
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ status: 409, type: 'OverQuota' })
    const db = (handles[0] as Database<any>).db
    expect(await db.selectFrom('securitygroups').select('id').where('project_id', '=', 'quota-project').execute()).toHaveLength(4)
  })

  it('never gives two concurrent floating IP allocations one address, and fails cleanly when the pool runs out', async () => {
    const directory = new MapDirectory()
    const net = 'e2000000-0000-4000-8000-000000000001'
    const subnet = 'e2000000-0000-4000-8000-0000000000a1'
    // 20 addresses: .10-.29.
    directory.networks.set(net, {
      id: net,
      projectId: 'admin',
      external: true,
      shared: false,
      subnets: [{ id: subnet, ipVersion: 4, cidr: '203.0.113.0/24', gatewayIp: '203.0.113.1', allocationPools: [{ start: '203.0.113.10', end: '203.0.113.29' }] }],
    })
    const fips = handles.map((h) => new FloatingIpStore({ db: h.db, directory }))
    // 30 requests from 5 projects: 20 get addresses, 10 find the pool empty.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => (fips[i % fips.length] as FloatingIpStore).create({ projectId: `fip-project-${i % 5}`, isAdmin: false }, { networkId: net, description: '' })),
    )
    const ok = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value.floating_ip_address)
    expect(ok).toHaveLength(20)
    expect(new Set(ok).size).toBe(20)
    for (const o of outcomes) {
      if (o.status === 'rejected') {
        expect(o.reason).toBeInstanceOf(NeutronFault)
        expect(o.reason).toMatchObject({ status: 409, type: 'IpAddressGenerationFailure' })
      }
    }
    const db = (handles[0] as Database<any>).db
    const rows = await db.selectFrom('floatingips').select('floating_ip_address').execute()
    expect(rows).toHaveLength(20)
    expect(new Set(rows.map((r: { floating_ip_address: string }) => r.floating_ip_address)).size).toBe(20)
    expect(await db.selectFrom('floatingip_allocations').select('ip_address').execute()).toHaveLength(20)
  })
})
