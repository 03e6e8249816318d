import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'
import { securityGroupMigrations } from '../../../../api-cell/network/security-groups/migrations.js'
import { setPortGroups } from '../../../../api-cell/network/security-groups/port-bindings.js'
import { createRule, deleteRule } from '../../../../api-cell/network/security-groups/rule-store.js'
import { validateRule } from '../../../../api-cell/network/security-groups/rule-validation.js'
import { rulesForPort } from '../../../../api-cell/network/security-groups/rules-for-port.js'
import type { SecurityGroupTables } from '../../../../api-cell/network/security-groups/schema.js'
import { SecurityGroupStore } from '../../../../api-cell/network/security-groups/security-group-store.js'

const caller = { projectId: 'p1', isAdmin: false }
let database: Database<SecurityGroupTables>
let store: SecurityGroupStore

beforeEach(async () => {
  database = await openDatabase<SecurityGroupTables>('sqlite::memory:')
  await migrateToLatest(database.db, securityGroupMigrations)
  store = new SecurityGroupStore({ db: database.db })
})
afterEach(async () => {
  await database.close()
})

/** Fixed IPs per port, as the port service would answer. */
function addresses(map: Record<string, string[]>) {
  return { fixedIpsOf: (ids: readonly string[]) => Promise.resolve(new Map(ids.filter((id) => map[id] !== undefined).map((id) => [id, map[id] ?? []]))) }
}

describe('rulesForPort', () => {
  it("expands the default group's remote-group rules into the members' addresses, per ethertype", async () => {
    const def = await store.ensureDefault('p1')
    await setPortGroups(database.db, 'port-a', [def])
    await setPortGroups(database.db, 'port-b', [def])
    const rules = await rulesForPort({ db: database.db, addresses: addresses({ 'port-a': ['10.0.0.3', '2001:db8::3'], 'port-b': ['10.0.0.4'] }) }, [def])
    expect(rules).toEqual(
      expect.arrayContaining([
        { direction: 'egress', ethertype: 'IPv4', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null },
        { direction: 'egress', ethertype: 'IPv6', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null },
        { direction: 'ingress', ethertype: 'IPv4', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: '10.0.0.3/32' },
        { direction: 'ingress', ethertype: 'IPv4', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: '10.0.0.4/32' },
        { direction: 'ingress', ethertype: 'IPv6', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: '2001:db8::3/128' },
      ]),
    )
    expect(rules).toHaveLength(5)
    expect(rules.every((r) => !('remoteGroupId' in r))).toBe(true)
  })

  it('drops a remote-group rule whose group has no member addresses, keeps prefix rules, and merges duplicates', async () => {
    const web = await store.create(caller, { name: 'web', description: '' })
    const empty = await store.create(caller, { name: 'empty', description: '' })
    const other = await store.create(caller, { name: 'other', description: '' })
    const id = web.group.id
    await createRule(store, caller, validateRule({ security_group_id: id, direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '192.168.1.7/24' }))
    await createRule(store, caller, validateRule({ security_group_id: id, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: empty.group.id }))
    // The same egress rules are in both groups: rendered once.
    const rules = await rulesForPort({ db: database.db, addresses: addresses({}) }, [id, other.group.id])
    expect(rules).toHaveLength(3)
    expect(rules).toEqual(
      expect.arrayContaining([
        { direction: 'egress', ethertype: 'IPv4', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null },
        { direction: 'egress', ethertype: 'IPv6', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null },
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 80, portRangeMax: 80, remoteIpPrefix: '192.168.1.0/24' },
      ]),
    )
  })

  it('tells the port service which groups changed when a rule is created or deleted', async () => {
    const changed: string[][] = []
    const watched = new SecurityGroupStore({ db: database.db, onRulesChanged: (ids) => Promise.resolve(void changed.push([...ids])) })
    const g = await watched.create(caller, { name: 'w', description: '' })
    expect(changed).toEqual([])
    const r = await createRule(watched, caller, validateRule({ security_group_id: g.group.id, direction: 'ingress', protocol: 'udp', port_range_min: 53, port_range_max: 53 }))
    await deleteRule(watched, caller, r.id)
    expect(changed).toEqual([[g.group.id], [g.group.id]])
    // Deleting a group other groups name as remote removes their rules: they changed too.
    const remote = await watched.create(caller, { name: 'remote', description: '' })
    await createRule(watched, caller, validateRule({ security_group_id: g.group.id, direction: 'ingress', remote_group_id: remote.group.id }))
    changed.length = 0
    await watched.delete(caller, remote.group.id)
    expect(changed).toEqual([[g.group.id]])
  })

  it('has no rules for a port without groups', async () => {
    expect(await rulesForPort({ db: database.db, addresses: addresses({}) }, [])).toEqual([])
  })
})
