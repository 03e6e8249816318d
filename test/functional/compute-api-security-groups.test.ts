import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { computeApp } from '../../api-cell/compute/app.js'
import type { ComputeDeps } from '../../api-cell/compute/deps.js'
import type { InstancePort } from '../../api-cell/compute/security-groups/instance-ports.js'
import { InstanceLocator } from '../../api-cell/compute/servers/locator.js'
import { computeMigrations } from '../../api-cell/db/compute-migrations.js'
import { setPortGroups } from '../../api-cell/network/security-groups/port-bindings.js'
import { SecurityGroupStore } from '../../api-cell/network/security-groups/security-group-store.js'
import { createLogger } from '../../shared/logging.js'
import type { Reply } from '../helpers/identity-fixture.js'
import { fixture } from '../helpers/identity-fixture.js'
import { networkDatabase } from '../helpers/network-app.js'

const SERVER = 'a1000000-0000-4000-8000-000000000001'
const NO_PORTS = 'a1000000-0000-4000-8000-000000000002'
const PORT_1 = 'c1000000-0000-4000-8000-000000000001'
const PORT_2 = 'c1000000-0000-4000-8000-000000000002'

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

/**
 * The real compute app (microversions, auth, fault renderer) with only what these routes touch:
 * the API database (SQLite in a temp dir) with instance mappings, and the network service's
 * store; a server with two ports and one with none, both alice's.
 */
async function setup() {
  const identity = await fixture()
  const alice = await identity.member('alice')
  const bob = await identity.member('bob')
  const { database, cleanup } = await networkDatabase(undefined, computeMigrations)
  closers.push(async () => {
    await database.close()
    cleanup()
  })
  for (const uuid of [SERVER, NO_PORTS]) {
    await database.db.insertInto('instance_mappings').values({ instance_uuid: uuid, cell_path: 'api!r1', project_id: alice.projectId, user_id: alice.userId, region: 'r1', queued_for_delete: 0, created_at: Date.now() }).execute()
  }
  const store = new SecurityGroupStore({ db: database.db })
  const ports: Record<string, InstancePort[]> = { [SERVER]: [{ id: PORT_1, portSecurityEnabled: true }, { id: PORT_2, portSecurityEnabled: true }] }
  const changed: string[] = []
  const inert = {} as never
  const deps = {
    db: database.db,
    tree: inert,
    cell0: inert,
    dispatcher: inert,
    builds: inert,
    locator: new InstanceLocator({ db: database.db, tree: inert, cell0: inert }),
    images: () => Promise.resolve(undefined),
    log: createLogger('test'),
    regions: [],
    securityGroups: {
      store,
      ports: {
        portsOf: (uuid: string) => Promise.resolve(ports[uuid] ?? []),
        groupsChanged: (uuid: string) => {
          changed.push(uuid)
          return Promise.resolve()
        },
      },
    },
  } satisfies ComputeDeps
  const server: Server = createServer(computeApp(deps, identity.tokens))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2.1`
  const call = async (token: string, method: string, path: string, body?: unknown, version = '2.1'): Promise<Reply> => {
    const headers: Record<string, string> = { 'X-Auth-Token': token, 'OpenStack-API-Version': `compute ${version}` }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }
  }
  return { alice, bob, admin: identity.admin, store, db: database.db, call, changed }
}

describe("compute API: Nova's security group proxies", () => {
  it('lists (default made), creates, shows, updates and deletes groups at 2.1 in Nova shapes', async () => {
    const { alice, call } = await setup()
    const list = await call(alice.token, 'GET', '/os-security-groups')
    expect(list.status).toBe(200)
    expect(list.body.security_groups).toHaveLength(1)
    const def = list.body.security_groups[0]
    expect(Object.keys(def).sort()).toEqual(['description', 'id', 'name', 'rules', 'tenant_id'])
    expect(def).toMatchObject({ name: 'default', tenant_id: alice.projectId })
    // Only the ingress rules show, each as Nova's rule from the same group.
    expect(def.rules).toHaveLength(2)
    expect(def.rules[0]).toMatchObject({ parent_group_id: def.id, ip_protocol: null, from_port: null, to_port: null, group: { name: 'default', tenant_id: alice.projectId }, ip_range: {} })
    const created = await call(alice.token, 'POST', '/os-security-groups', { security_group: { name: 'web', description: 'web tier' } })
    expect(created.status).toBe(200)
    expect(created.body.security_group).toEqual({ id: expect.any(String), name: 'web', description: 'web tier', tenant_id: alice.projectId, rules: [] })
    const id = created.body.security_group.id as string
    expect((await call(alice.token, 'GET', `/os-security-groups/${id}`)).body.security_group.name).toBe('web')
    const updated = await call(alice.token, 'PUT', `/os-security-groups/${id}`, { security_group: { name: 'www', description: 'new' } })
    expect(updated.status).toBe(200)
    expect(updated.body.security_group).toMatchObject({ name: 'www', description: 'new' })
    const sorted = await call(alice.token, 'GET', '/os-security-groups')
    expect(sorted.body.security_groups.map((g: { name: string }) => g.name)).toEqual(['default', 'www'])
    expect((await call(alice.token, 'GET', '/os-security-groups?limit=1&offset=1')).body.security_groups.map((g: { name: string }) => g.name)).toEqual(['www'])
    expect((await call(alice.token, 'GET', '/os-security-groups?limit=x')).status).toBe(400)
    expect((await call(alice.token, 'DELETE', `/os-security-groups/${id}`)).status).toBe(202)
    const gone = await call(alice.token, 'GET', `/os-security-groups/${id}`)
    expect(gone.status).toBe(404)
    expect(gone.body.itemNotFound.code).toBe(404)
  })

  it('is 404 from 2.36, as Nova', async () => {
    const { alice, call } = await setup()
    for (const [method, path] of [
      ['GET', '/os-security-groups'],
      ['POST', '/os-security-groups'],
      ['POST', '/os-security-group-rules'],
      ['DELETE', '/os-security-group-rules/x'],
    ] as const) {
      const r = await call(alice.token, method, path, method === 'POST' ? { security_group: { name: 'a', description: 'b' } } : undefined, '2.36')
      expect(r.status, `${method} ${path}`).toBe(404)
      expect(r.body.itemNotFound).toBeDefined()
    }
    expect((await call(alice.token, 'GET', '/os-security-groups', undefined, '2.35')).status).toBe(200)
  })

  it("validates group bodies as Nova's validate_property (400) and hides other projects' groups (404)", async () => {
    const { alice, bob, admin, call } = await setup()
    for (const body of [{}, { security_group: { description: 'x' } }, { security_group: { name: '  ', description: 'x' } }, { security_group: { name: 'x'.repeat(256), description: 'x' } }, { security_group: { name: 'a', description: '' } }]) {
      const r = await call(alice.token, 'POST', '/os-security-groups', body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.badRequest.code).toBe(400)
    }
    const id = (await call(alice.token, 'POST', '/os-security-groups', { security_group: { name: 'mine', description: 'x' } })).body.security_group.id
    expect((await call(bob.token, 'GET', `/os-security-groups/${id}`)).status).toBe(404)
    expect((await call(bob.token, 'DELETE', `/os-security-groups/${id}`)).status).toBe(404)
    // Bob sees his own default only; all_tenants is for admins.
    expect((await call(bob.token, 'GET', '/os-security-groups?all_tenants=1')).body.security_groups.map((g: { tenant_id: string }) => g.tenant_id)).toEqual([bob.projectId])
    const everyone = await call(admin, 'GET', '/os-security-groups?all_tenants=1')
    expect(everyone.body.security_groups.map((g: { tenant_id: string }) => g.tenant_id)).toEqual(expect.arrayContaining([alice.projectId, bob.projectId]))
    expect((await call(alice.token, 'GET', '/os-security-groups/not-a-uuid')).status).toBe(404)
  })

  it("creates rules from Nova's fields, refuses bad ones with 400 and duplicates with 400, deletes with 202", async () => {
    const { alice, call } = await setup()
    const g = (await call(alice.token, 'POST', '/os-security-groups', { security_group: { name: 'ssh', description: 'x' } })).body.security_group
    const rule = { parent_group_id: g.id, ip_protocol: 'tcp', from_port: 22, to_port: 22, cidr: '10.0.0.0/24' }
    const created = await call(alice.token, 'POST', '/os-security-group-rules', { security_group_rule: rule })
    expect(created.status).toBe(200)
    expect(created.body.security_group_rule).toEqual({ id: expect.any(String), parent_group_id: g.id, ip_protocol: 'tcp', from_port: 22, to_port: 22, group: {}, ip_range: { cidr: '10.0.0.0/24' } })
    expect((await call(alice.token, 'POST', '/os-security-group-rules', { security_group_rule: rule })).status).toBe(400)
    const icmp = await call(alice.token, 'POST', '/os-security-group-rules', { security_group_rule: { parent_group_id: g.id, ip_protocol: 'icmp', from_port: -1, to_port: -1, cidr: '0.0.0.0/0' } })
    expect(icmp.status).toBe(200)
    expect(icmp.body.security_group_rule).toMatchObject({ ip_protocol: 'icmp', from_port: -1, to_port: -1 })
    const fromGroup = await call(alice.token, 'POST', '/os-security-group-rules', { security_group_rule: { parent_group_id: g.id, ip_protocol: 'tcp', group_id: g.id } })
    expect(fromGroup.status).toBe(200)
    expect(fromGroup.body.security_group_rule).toMatchObject({ from_port: 1, to_port: 65535, group: { name: 'ssh', tenant_id: alice.projectId }, ip_range: {} })
    for (const bad of [
      { ...rule, ip_protocol: 'gre' },
      { ...rule, from_port: 23, to_port: 22 },
      { ...rule, from_port: 0, to_port: 22 },
      { ...rule, from_port: 'x' },
      { ...rule, cidr: '10.0.0.0/33' },
      { parent_group_id: g.id, ip_protocol: 'tcp', cidr: '10.0.0.0/8' },
      { ...rule, ip_protocol: 'icmp', from_port: 256, to_port: 0 },
    ]) {
      const r = await call(alice.token, 'POST', '/os-security-group-rules', { security_group_rule: bad })
      expect(r.status, JSON.stringify(bad)).toBe(400)
    }
    expect((await call(alice.token, 'POST', '/os-security-group-rules', { security_group_rule: { ...rule, parent_group_id: 'a9999999-0000-4000-8000-000000000000' } })).status).toBe(404)
    expect((await call(alice.token, 'DELETE', `/os-security-group-rules/${created.body.security_group_rule.id as string}`)).status).toBe(202)
    expect((await call(alice.token, 'DELETE', `/os-security-group-rules/${created.body.security_group_rule.id as string}`)).status).toBe(404)
    const shown = await call(alice.token, 'GET', `/os-security-groups/${g.id as string}`)
    expect(shown.body.security_group.rules).toHaveLength(2)
  })

  it("refuses to delete a group a server's port uses (400, as Nova maps Neutron's 409)", async () => {
    const { alice, call, db } = await setup()
    const g = (await call(alice.token, 'POST', '/os-security-groups', { security_group: { name: 'used', description: 'x' } })).body.security_group
    await setPortGroups(db, PORT_1, [g.id])
    expect((await call(alice.token, 'DELETE', `/os-security-groups/${g.id as string}`)).status).toBe(400)
  })
})

describe("compute API: a server's security groups", () => {
  it('adds and removes a group on every port of the server (202) and lists the server groups, at 2.1 and at 2.93', async () => {
    const { alice, call, db, changed } = await setup()
    const g = (await call(alice.token, 'POST', '/os-security-groups', { security_group: { name: 'extra', description: 'x' } })).body.security_group
    expect((await call(alice.token, 'GET', `/servers/${SERVER}/os-security-groups`)).body.security_groups).toEqual([])
    const add = await call(alice.token, 'POST', `/servers/${SERVER}/action`, { addSecurityGroup: { name: 'extra' } }, '2.93')
    expect(add.status).toBe(202)
    expect(changed).toEqual([SERVER])
    const both = await db.selectFrom('securitygroupportbindings').selectAll().where('security_group_id', '=', g.id).execute()
    expect(both.map((b) => String(b['port_id'])).sort()).toEqual([PORT_1, PORT_2])
    await call(alice.token, 'POST', `/servers/${SERVER}/action`, { addSecurityGroup: { name: 'default' } })
    const listed = await call(alice.token, 'GET', `/servers/${SERVER}/os-security-groups`, undefined, '2.93')
    expect(listed.status).toBe(200)
    expect(listed.body.security_groups.map((x: { name: string }) => x.name)).toEqual(['default', 'extra'])
    expect((await call(alice.token, 'POST', `/servers/${SERVER}/action`, { removeSecurityGroup: { name: g.id } })).status).toBe(202)
    const again = await call(alice.token, 'POST', `/servers/${SERVER}/action`, { removeSecurityGroup: { name: 'extra' } })
    expect(again.status).toBe(400)
    expect(again.body.badRequest.message).toContain('not associated with the instance')
    expect((await call(alice.token, 'GET', `/servers/${SERVER}/os-security-groups`)).body.security_groups.map((x: { name: string }) => x.name)).toEqual(['default'])
  })

  it("answers bad action bodies 400, unknown groups and servers 404, another project's server 404", async () => {
    const { alice, bob, call } = await setup()
    for (const body of [{ addSecurityGroup: 'x' }, { addSecurityGroup: {} }, { addSecurityGroup: { name: ' ' } }, { removeSecurityGroup: { name: '' } }]) {
      expect((await call(alice.token, 'POST', `/servers/${SERVER}/action`, body)).status, JSON.stringify(body)).toBe(400)
    }
    const unknown = await call(alice.token, 'POST', `/servers/${SERVER}/action`, { addSecurityGroup: { name: 'nope' } })
    expect(unknown.status).toBe(404)
    expect(unknown.body.itemNotFound.message).toContain('nope')
    expect((await call(alice.token, 'POST', `/servers/${NO_PORTS}/action`, { addSecurityGroup: { name: 'default' } })).status).toBe(404)
    expect((await call(alice.token, 'POST', '/servers/a1000000-0000-4000-8000-0000000000ff/action', { addSecurityGroup: { name: 'default' } })).status).toBe(404)
    expect((await call(bob.token, 'POST', `/servers/${SERVER}/action`, { addSecurityGroup: { name: 'default' } })).status).toBe(404)
    expect((await call(bob.token, 'GET', `/servers/${SERVER}/os-security-groups`)).status).toBe(404)
  })
})
