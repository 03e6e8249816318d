import { describe, expect, it } from 'vitest'
import { securityGroupRouter } from '../../api-cell/network/security-groups/router.js'
import { setPortGroups } from '../../api-cell/network/security-groups/port-bindings.js'
import { SecurityGroupStore } from '../../api-cell/network/security-groups/security-group-store.js'
import type { NetworkQuotaLimits } from '../../api-cell/network/security-groups/network-quotas.js'
import { NEUTRON_DEFAULT_QUOTAS } from '../../api-cell/network/security-groups/network-quotas.js'
import { fixture } from '../helpers/identity-fixture.js'
import { networkApp } from '../helpers/network-app.js'

const SG = '/v2.0/security-groups'
const RULES = '/v2.0/security-group-rules'

/** Tight limits for one test: 3 groups, 8 rules per project. */
const tight: NetworkQuotaLimits = {
  limitOf: (_p, r) => Promise.resolve(r === 'security_group' ? 3 : r === 'security_group_rule' ? 8 : NEUTRON_DEFAULT_QUOTAS[r]),
}

async function setup(limits?: NetworkQuotaLimits) {
  const identity = await fixture()
  let store: SecurityGroupStore | undefined
  const app = await networkApp(identity, (database, auth) => {
    store = new SecurityGroupStore({ db: database.db, ...(limits === undefined ? {} : { limits }) })
    return [securityGroupRouter({ store, auth })]
  })
  if (store === undefined) throw new Error('no store')
  const alice = await identity.member('alice')
  const bob = await identity.member('bob')
  return { identity, app, store, alice, bob, admin: identity.admin }
}

describe('Neutron security groups API', () => {
  it('creates the default group with its four rules on the first list, once', async () => {
    const { app, alice } = await setup()
    const first = await app.call('GET', SG, alice.token)
    expect(first.status).toBe(200)
    expect(first.body.security_groups).toHaveLength(1)
    const def = first.body.security_groups[0]
    expect(def).toMatchObject({ name: 'default', project_id: alice.projectId, tenant_id: alice.projectId, stateful: true })
    const rules = def.security_group_rules as Array<Record<string, unknown>>
    expect(rules).toHaveLength(4)
    expect(rules.filter((r) => r['direction'] === 'egress' && r['remote_group_id'] === null).map((r) => r['ethertype']).sort()).toEqual(['IPv4', 'IPv6'])
    expect(rules.filter((r) => r['direction'] === 'ingress' && r['remote_group_id'] === def.id).map((r) => r['ethertype']).sort()).toEqual(['IPv4', 'IPv6'])
    const again = await app.call('GET', SG, alice.token)
    expect(again.body.security_groups.map((g: { id: string }) => g.id)).toEqual([def.id])
  })

  it('makes one default group when a project lists many times at once (SQLite)', async () => {
    const { app, alice, store } = await setup()
    const lists = await Promise.all(Array.from({ length: 12 }, () => app.call('GET', SG, alice.token)))
    const ids = new Set(lists.map((l) => (l.body.security_groups as Array<{ id: string }>).map((g) => g.id).join(',')))
    expect(ids.size).toBe(1)
    const rows = await store.db.selectFrom('securitygroups').select('id').where('project_id', '=', alice.projectId).execute()
    expect(rows).toHaveLength(1)
  })

  it('creates, shows, renames and deletes a group; another project sees a 404', async () => {
    const { app, alice, bob } = await setup()
    const created = await app.call('POST', SG, alice.token, { security_group: { name: 'web', description: 'web servers' } })
    expect(created.status).toBe(201)
    const g = created.body.security_group
    expect(g).toMatchObject({ name: 'web', description: 'web servers', project_id: alice.projectId })
    // Neutron gives every new group egress to anywhere.
    expect(g.security_group_rules.map((r: { direction: string; ethertype: string }) => `${r.direction}/${r.ethertype}`).sort()).toEqual(['egress/IPv4', 'egress/IPv6'])
    expect((await app.call('GET', `${SG}/${g.id}`, alice.token)).body.security_group.id).toBe(g.id)
    const notBobs = await app.call('GET', `${SG}/${g.id}`, bob.token)
    expect(notBobs.status).toBe(404)
    expect(notBobs.body.NeutronError).toMatchObject({ type: 'SecurityGroupNotFound', detail: '' })
    expect((await app.call('GET', SG, bob.token)).body.security_groups.map((x: { name: string }) => x.name)).toEqual(['default'])
    const renamed = await app.call('PUT', `${SG}/${g.id}`, alice.token, { security_group: { name: 'www' } })
    expect(renamed.status).toBe(200)
    expect(renamed.body.security_group).toMatchObject({ name: 'www', revision_number: 1 })
    expect((await app.call('DELETE', `${SG}/${g.id}`, bob.token)).status).toBe(404)
    expect((await app.call('DELETE', `${SG}/${g.id}`, alice.token)).status).toBe(204)
    expect((await app.call('GET', `${SG}/${g.id}`, alice.token)).status).toBe(404)
  })

  it('filters by name, and lets an admin list one project with ?project_id=', async () => {
    const { app, alice, bob, admin } = await setup()
    await app.call('POST', SG, alice.token, { security_group: { name: 'db' } })
    await app.call('GET', SG, bob.token)
    const named = await app.call('GET', `${SG}?name=db`, alice.token)
    expect(named.body.security_groups.map((g: { name: string }) => g.name)).toEqual(['db'])
    const alices = await app.call('GET', `${SG}?project_id=${alice.projectId}`, admin)
    expect(alices.body.security_groups.map((g: { name: string }) => g.name).sort()).toEqual(['db', 'default'])
    expect(alices.body.security_groups.every((g: { project_id: string }) => g.project_id === alice.projectId)).toBe(true)
    const fields = await app.call('GET', `${SG}?fields=id&fields=name`, alice.token)
    expect(Object.keys(fields.body.security_groups[0]).sort()).toEqual(['id', 'name'])
    // A member naming another project sees nothing of it.
    expect((await app.call('GET', `${SG}?project_id=${alice.projectId}`, bob.token)).body.security_groups).toEqual([])
  })

  it('keeps the default group: no rename (409), no second default (409), no delete by its project (409)', async () => {
    const { app, alice, admin } = await setup()
    const def = (await app.call('GET', SG, alice.token)).body.security_groups[0]
    const rename = await app.call('PUT', `${SG}/${def.id}`, alice.token, { security_group: { name: 'other' } })
    expect(rename.status).toBe(409)
    expect(rename.body.NeutronError.type).toBe('SecurityGroupCannotUpdateDefault')
    const describe = await app.call('PUT', `${SG}/${def.id}`, alice.token, { security_group: { description: 'mine' } })
    expect(describe.status).toBe(200)
    const second = await app.call('POST', SG, alice.token, { security_group: { name: 'default' } })
    expect(second.status).toBe(409)
    expect(second.body.NeutronError.type).toBe('SecurityGroupDefaultAlreadyExists')
    const del = await app.call('DELETE', `${SG}/${def.id}`, alice.token)
    expect(del.status).toBe(409)
    expect(del.body.NeutronError.type).toBe('SecurityGroupCannotRemoveDefault')
    expect((await app.call('GET', `${SG}/${def.id}`, alice.token)).status).toBe(200)
    // An admin may (Neutron's rule); the next use creates a new one.
    expect((await app.call('DELETE', `${SG}/${def.id}`, admin)).status).toBe(204)
    const next = (await app.call('GET', SG, alice.token)).body.security_groups
    expect(next).toHaveLength(1)
    expect(next[0].id).not.toBe(def.id)
  })

  it('refuses to delete a group a port uses (409 SecurityGroupInUse), and deletes it once unbound', async () => {
    const { app, alice, store } = await setup()
    const g = (await app.call('POST', SG, alice.token, { security_group: { name: 'bound' } })).body.security_group
    await setPortGroups(store.db, 'port-1', [g.id])
    const del = await app.call('DELETE', `${SG}/${g.id}`, alice.token)
    expect(del.status).toBe(409)
    expect(del.body.NeutronError).toMatchObject({ type: 'SecurityGroupInUse', message: `Security Group ${g.id} in use.` })
    await setPortGroups(store.db, 'port-1', [])
    expect((await app.call('DELETE', `${SG}/${g.id}`, alice.token)).status).toBe(204)
  })

  it('creates, lists, shows and deletes rules; a duplicate is 409 SecurityGroupRuleExists; bad input is 400 and stores nothing', async () => {
    const { app, alice, bob } = await setup()
    const g = (await app.call('POST', SG, alice.token, { security_group: { name: 'ssh' } })).body.security_group
    const body = { security_group_rule: { security_group_id: g.id, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '203.0.113.9/24' } }
    const created = await app.call('POST', RULES, alice.token, body)
    expect(created.status).toBe(201)
    const rule = created.body.security_group_rule
    expect(rule).toMatchObject({ security_group_id: g.id, protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '203.0.113.0/24', ethertype: 'IPv4', project_id: alice.projectId })
    const dup = await app.call('POST', RULES, alice.token, { security_group_rule: { ...body.security_group_rule, protocol: '6', remote_ip_prefix: '203.0.113.0/24' } })
    expect(dup.status).toBe(409)
    expect(dup.body.NeutronError).toMatchObject({ type: 'SecurityGroupRuleExists', message: `Security group rule already exists. Rule id is ${rule.id}.` })
    const bad = await app.call('POST', RULES, alice.token, { security_group_rule: { security_group_id: g.id, direction: 'ingress', protocol: 'icmp', port_range_min: 300 } })
    expect(bad.status).toBe(400)
    expect(bad.body.NeutronError.type).toBe('SecurityGroupInvalidIcmpValue')
    const listed = await app.call('GET', `${RULES}?security_group_id=${g.id}`, alice.token)
    expect(listed.body.security_group_rules).toHaveLength(3)
    expect((await app.call('GET', `${RULES}/${rule.id}`, alice.token)).body.security_group_rule.id).toBe(rule.id)
    expect((await app.call('GET', `${RULES}/${rule.id}`, bob.token)).status).toBe(404)
    const inBobs = await app.call('POST', RULES, bob.token, body)
    expect(inBobs.status).toBe(404)
    expect(inBobs.body.NeutronError.type).toBe('SecurityGroupNotFound')
    expect((await app.call('DELETE', `${RULES}/${rule.id}`, alice.token)).status).toBe(204)
    const after = await app.call('GET', `${SG}/${g.id}`, alice.token)
    expect(after.body.security_group.security_group_rules).toHaveLength(2)
  })

  it('checks remote groups: unknown is 404, another project is 404, its own is accepted', async () => {
    const { app, alice, bob } = await setup()
    const g = (await app.call('POST', SG, alice.token, { security_group: { name: 'a' } })).body.security_group
    const bobs = (await app.call('GET', SG, bob.token)).body.security_groups[0]
    const rule = (remote: string) => ({ security_group_rule: { security_group_id: g.id, direction: 'ingress', remote_group_id: remote } })
    expect((await app.call('POST', RULES, alice.token, rule(bobs.id))).status).toBe(404)
    expect((await app.call('POST', RULES, alice.token, rule('6a3d1b9e-0000-4000-8000-000000000000'))).status).toBe(404)
    expect((await app.call('POST', RULES, alice.token, rule(g.id))).status).toBe(201)
  })

  it('pages rule lists with limit and marker, following the next link', async () => {
    const { app, alice } = await setup()
    await app.call('POST', SG, alice.token, { security_group: { name: 'more' } })
    const all = (await app.call('GET', RULES, alice.token)).body.security_group_rules.map((r: { id: string }) => r.id)
    expect(all).toHaveLength(6)
    const seen: string[] = []
    let next: string | undefined = `${RULES}?limit=4&fields=id`
    while (next !== undefined) {
      const page = await app.call('GET', next, alice.token)
      expect(page.status).toBe(200)
      seen.push(...page.body.security_group_rules.map((r: { id: string }) => r.id))
      const link = (page.body.security_group_rules_links as Array<{ rel: string; href: string }>).find((l) => l.rel === 'next')
      next = link === undefined ? undefined : link.href.slice(app.url.length)
    }
    expect(seen).toEqual(all)
    expect((await app.call('GET', `${RULES}?limit=-1`, alice.token)).status).toBe(400)
    expect((await app.call('GET', `${RULES}?marker=nope`, alice.token)).status).toBe(400)
  })

  it('enforces security_group and security_group_rule quotas with 409 OverQuota', async () => {
    const { app, alice } = await setup(tight)
    // default + 2 more = 3 groups; default has 4 rules, each new group 2: 8 rules.
    expect((await app.call('POST', SG, alice.token, { security_group: { name: 'one' } })).status).toBe(201)
    const two = await app.call('POST', SG, alice.token, { security_group: { name: 'two' } })
    expect(two.status).toBe(201)
    const three = await app.call('POST', SG, alice.token, { security_group: { name: 'three' } })
    expect(three.status).toBe(409)
    expect(three.body.NeutronError).toMatchObject({ type: 'OverQuota', message: "Quota exceeded for resources: ['security_group']." })
    const rule = await app.call('POST', RULES, alice.token, { security_group_rule: { security_group_id: two.body.security_group.id, direction: 'ingress', protocol: 'udp', port_range_min: 53, port_range_max: 53 } })
    expect(rule.status).toBe(409)
    expect(rule.body.NeutronError.message).toBe("Quota exceeded for resources: ['security_group_rule'].")
    expect((await app.call('GET', SG, alice.token)).body.security_groups).toHaveLength(3)
  })

  it('answers bad bodies with Neutron 400s and changes nothing', async () => {
    const { app, alice, bob } = await setup()
    const cases: Array<[unknown, string]> = [
      [{}, 'HTTPBadRequest'],
      [{ security_group: 'x' }, 'HTTPBadRequest'],
      [{ security_group: { name: 'x', colour: 'red' } }, 'HTTPBadRequest'],
      [{ security_group: { name: 'x'.repeat(256) } }, 'HTTPBadRequest'],
      [{ security_group: { name: 7 } }, 'HTTPBadRequest'],
      [{ security_group: { name: 'x', project_id: bob.projectId } }, 'HTTPBadRequest'],
    ]
    for (const [body, type] of cases) {
      const r = await app.call('POST', SG, alice.token, body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.NeutronError.type).toBe(type)
    }
    const malformed = await fetch(`${app.url}${SG}`, { method: 'POST', headers: { 'X-Auth-Token': alice.token, 'Content-Type': 'application/json' }, body: '{"security_group":' })
    expect(malformed.status).toBe(400)
    expect(((await malformed.json()) as { NeutronError: { type: string } }).NeutronError.type).toBe('HTTPBadRequest')
    expect((await app.call('GET', SG, alice.token)).body.security_groups.map((g: { name: string }) => g.name)).toEqual(['default'])
    const unauthenticated = await app.call('GET', SG, 'not-a-token')
    expect(unauthenticated.status).toBe(401)
    expect(unauthenticated.body.NeutronError.type).toBe('HTTPUnauthorized')
  })

  it('resolves names and ids for a boot (default created, ambiguous names 409)', async () => {
    const { app, alice, store } = await setup()
    const caller = { projectId: alice.projectId, isAdmin: false }
    const [def] = await store.resolve(caller, ['default'])
    expect((await app.call('GET', SG, alice.token)).body.security_groups[0].id).toBe(def)
    const a = (await app.call('POST', SG, alice.token, { security_group: { name: 'twin' } })).body.security_group
    expect(await store.resolve(caller, ['twin', a.id])).toEqual([a.id])
    await app.call('POST', SG, alice.token, { security_group: { name: 'twin' } })
    await expect(store.resolve(caller, ['twin'])).rejects.toMatchObject({ status: 409, type: 'NoUniqueMatch' })
    await expect(store.resolve(caller, ['nope'])).rejects.toMatchObject({ status: 404, type: 'SecurityGroupNotFound' })
  })
})
