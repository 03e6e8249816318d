import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

/** A project with one member user, logged in. */
async function memberSession(fed: Federation, admin: Session, name: string): Promise<Session> {
  const id = fed.api.urls.identity
  const project = (await call(admin, 'POST', `${id}/v3/projects`, { project: { name, domain_id: 'default' } })).body.project
  const user = (await call(admin, 'POST', `${id}/v3/users`, { user: { name, password: `pw-${name}`, domain_id: 'default', default_project_id: project.id } })).body.user
  const role = (await call(admin, 'GET', `${id}/v3/roles?name=member`)).body.roles[0]
  expect((await call(admin, 'PUT', `${id}/v3/projects/${project.id}/users/${user.id}/roles/${role.id}`)).status).toBe(204)
  return login(id, name, `pw-${name}`, name)
}

/** The network service in-process: the Neutron API, and servers booted on networks. */
describe('networks', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let alice: Session
  let net: string
  let netOne: string
  let compute: string
  let computeOne: string
  let imageRef: string

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    alice = await memberSession(fed, admin, 'alice-net')
    net = endpoint(alice, 'network', 'federation')
    netOne = endpoint(alice, 'network', 'region-one')
    compute = endpoint(alice, 'compute', 'federation')
    computeOne = endpoint(alice, 'compute', 'region-one')
    imageRef = (await call(admin, 'GET', `${fed.api.urls.image}/v2/images?name=cirros`)).body.images[0].id
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('serves version documents and the extensions list', async () => {
    expect((await call(undefined, 'GET', `${net}/`)).body.versions[0].id).toBe('v2.0')
    const ext = (await call(alice, 'GET', `${net}/v2.0/extensions`)).body.extensions.map((e: any) => e.alias)
    expect(ext).toEqual(expect.arrayContaining(['network', 'subnet', 'port', 'binding', 'provider', 'external-net', 'quotas', 'security-group']))
    expect(ext).not.toContain('router')
    const missing = await call(alice, 'GET', `${net}/v2.0/extensions/router`)
    expect(missing.status).toBe(404)
    expect(missing.body.NeutronError.type).toBe('ExtensionNotFound')
  })

  it('has one shared network per region and a federation-wide one from the bootstrap, seen through each region endpoint', async () => {
    const all = (await call(alice, 'GET', `${net}/v2.0/networks?shared=true`)).body.networks.map((n: any) => n.name)
    expect(all).toEqual(expect.arrayContaining(['federation-net', 'region-one-net', 'region-two-net']))
    const one = (await call(alice, 'GET', `${netOne}/v2.0/networks`)).body.networks.map((n: any) => n.name)
    expect(one).toEqual(expect.arrayContaining(['region-one-net', 'federation-net']))
    expect(one).not.toContain('region-two-net')
  })

  it('creates a network, an IPv4 and an IPv6 subnet and a port; answers Neutron faults', async () => {
    const n = await call(alice, 'POST', `${netOne}/v2.0/networks`, { network: { name: 'a-net' } })
    expect(n.status).toBe(201)
    expect(n.body.network).toMatchObject({ name: 'a-net', status: 'ACTIVE', mtu: 1450, shared: false, 'router:external': false })
    expect(n.body.network['provider:network_type']).toBeUndefined()
    const id = n.body.network.id
    const s4 = await call(alice, 'POST', `${net}/v2.0/subnets`, { subnet: { network_id: id, cidr: '192.168.7.0/24', ip_version: 4, dns_nameservers: ['8.8.8.8'] } })
    expect(s4.status).toBe(201)
    expect(s4.body.subnet).toMatchObject({ gateway_ip: '192.168.7.1', allocation_pools: [{ start: '192.168.7.2', end: '192.168.7.254' }] })
    const s6 = await call(alice, 'POST', `${net}/v2.0/subnets`, { subnet: { network_id: id, cidr: 'fd00:0:0:7::/64', ip_version: 6 } })
    expect(s6.status).toBe(201)
    expect(s6.body.subnet.gateway_ip).toBe('fd00:0:0:7::1')
    const overlap = await call(alice, 'POST', `${net}/v2.0/subnets`, { subnet: { network_id: id, cidr: '192.168.7.128/25', ip_version: 4 } })
    expect(overlap.status).toBe(400)
    expect(overlap.body.NeutronError.message).toContain('overlaps')
    const hostBits = await call(alice, 'POST', `${net}/v2.0/subnets`, { subnet: { network_id: id, cidr: '10.9.9.9/24', ip_version: 4 } })
    expect(hostBits.status).toBe(400)
    const p = await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: id, name: 'p1' } })
    expect(p.status).toBe(201)
    expect(p.body.port.mac_address).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/)
    expect(p.body.port.status).toBe('DOWN')
    expect(p.body.port.fixed_ips.map((f: any) => f.subnet_id)).toEqual([s4.body.subnet.id, s6.body.subnet.id])
    const fixed = await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: id, fixed_ips: [{ ip_address: '192.168.7.50' }] } })
    expect(fixed.body.port.fixed_ips).toEqual([{ subnet_id: s4.body.subnet.id, ip_address: '192.168.7.50' }])
    const taken = await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: id, fixed_ips: [{ ip_address: '192.168.7.50' }] } })
    expect(taken.status).toBe(409)
    expect(taken.body.NeutronError.type).toBe('IpAddressAlreadyAllocated')
    const outside = await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: id, fixed_ips: [{ subnet_id: s4.body.subnet.id, ip_address: '10.0.0.5' }] } })
    expect(outside.status).toBe(400)
    const before = (await call(alice, 'GET', `${net}/v2.0/ports?network_id=${id}`)).body.ports.length
    expect(before).toBe(2)
    const missing = await call(alice, 'GET', `${net}/v2.0/networks/00000000-0000-0000-0000-000000000000`)
    expect(missing.status).toBe(404)
    expect(missing.body.NeutronError).toMatchObject({ type: 'NetworkNotFound', detail: '' })
    expect((await call(alice, 'DELETE', `${net}/v2.0/networks/${id}`)).body.NeutronError.type).toBe('NetworkInUse')
    expect((await call(alice, 'DELETE', `${net}/v2.0/ports/${fixed.body.port.id}`)).status).toBe(204)
    // The address is free again.
    const again = await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: id, fixed_ips: [{ ip_address: '192.168.7.50' }] } })
    expect(again.status).toBe(201)
  })

  it('filters, pages and selects fields', async () => {
    const n = (await call(alice, 'POST', `${net}/v2.0/networks`, { network: { name: 'paged' } })).body.network
    await call(alice, 'POST', `${net}/v2.0/subnets`, { subnet: { network_id: n.id, cidr: '172.16.0.0/24', ip_version: 4 } })
    for (let i = 0; i < 5; i += 1) await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: n.id, name: `pp-${i}`, device_id: i % 2 === 0 ? 'even' : 'odd' } })
    const even = (await call(alice, 'GET', `${net}/v2.0/ports?network_id=${n.id}&device_id=even&fields=name&fields=device_id`)).body.ports
    expect(even.map((p: any) => p.name).sort()).toEqual(['pp-0', 'pp-2', 'pp-4'])
    expect(Object.keys(even[0]).sort()).toEqual(['device_id', 'name'])
    const seen: string[] = []
    let next: string | undefined = `${net}/v2.0/ports?network_id=${n.id}&limit=2&sort_key=name&sort_dir=asc`
    while (next !== undefined) {
      const page: any = (await call(alice, 'GET', next)).body
      seen.push(...page.ports.map((p: any) => p.name))
      next = page.ports_links?.find((l: any) => l.rel === 'next')?.href
      expect(seen.length).toBeLessThan(10)
    }
    expect(seen).toEqual(['pp-0', 'pp-1', 'pp-2', 'pp-3', 'pp-4'])
  })

  it('keeps other projects out and admin attributes to admin', async () => {
    const bob = await memberSession(fed, admin, 'bob-net')
    const mine = (await call(alice, 'POST', `${net}/v2.0/networks`, { network: { name: 'private-a' } })).body.network
    expect((await call(bob, 'GET', `${net}/v2.0/networks/${mine.id}`)).status).toBe(404)
    expect((await call(bob, 'POST', `${net}/v2.0/networks`, { network: { name: 'x', shared: true } })).status).toBe(403)
    const seen = await call(admin, 'GET', `${endpoint(admin, 'network', 'federation')}/v2.0/networks/${mine.id}`)
    expect(seen.body.network['provider:network_type']).toBe('vxlan')
  })

  it('enforces the network quota with OverQuota', async () => {
    const carol = await memberSession(fed, admin, 'carol-net')
    const project = carol.projectId
    const adminNet = endpoint(admin, 'network', 'federation')
    expect((await call(admin, 'PUT', `${adminNet}/v2.0/quotas/${project}`, { quota: { network: 1 } })).body.quota.network).toBe(1)
    expect((await call(carol, 'POST', `${net}/v2.0/networks`, { network: { name: 'q1' } })).status).toBe(201)
    const over = await call(carol, 'POST', `${net}/v2.0/networks`, { network: { name: 'q2' } })
    expect(over.status).toBe(409)
    expect(over.body.NeutronError.type).toBe('OverQuota')
    const details = (await call(carol, 'GET', `${net}/v2.0/quotas/${project}/details.json`)).body.quota
    expect(details.network).toEqual({ limit: 1, used: 1, reserved: 0 })
  })

  it('boots with networks auto, none, a network with a fixed IP and a port; shows and frees addresses', async () => {
    const n = (await call(alice, 'POST', `${netOne}/v2.0/networks`, { network: { name: 'boot-net' } })).body.network
    const sub = (await call(alice, 'POST', `${net}/v2.0/subnets`, { subnet: { network_id: n.id, cidr: '10.77.0.0/24', ip_version: 4 } })).body.subnet
    const port = (await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: n.id } })).body.port
    const mv = { 'OpenStack-API-Version': 'compute 2.37', 'X-OpenStack-Nova-API-Version': '2.37' }
    const boot = async (name: string, networks: unknown): Promise<any> => call(alice, 'POST', `${compute}/servers`, { server: { name, imageRef, flavorRef: '1', networks } }, mv)
    const fixed = await boot('b-fixed', [{ uuid: n.id, fixed_ip: '10.77.0.40' }])
    expect(fixed.status).toBe(202)
    const viaPort = await boot('b-port', [{ port: port.id }])
    expect(viaPort.status).toBe(202)
    const none = await boot('b-none', 'none')
    expect(none.status).toBe(202)
    // Bad requests allocate nothing.
    const used = await boot('b-used', [{ uuid: n.id, fixed_ip: '10.77.0.40' }])
    expect(used.status).toBe(400)
    expect((await boot('b-inuse', [{ port: port.id }])).status).toBe(409)
    expect((await boot('b-nonet', [{ uuid: '00000000-0000-0000-0000-000000000000' }])).status).toBe(400)
    const s = await waitForStatus(alice, compute, fixed.body.server.id, 'ACTIVE')
    expect(s.addresses['boot-net']).toEqual([{ version: 4, addr: '10.77.0.40', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': expect.stringMatching(/^fa:16:3e/) }])
    const p = await waitForStatus(alice, compute, viaPort.body.server.id, 'ACTIVE')
    expect(p.addresses['boot-net'][0].addr).toBe(port.fixed_ips[0].ip_address)
    expect((await waitForStatus(alice, compute, none.body.server.id, 'ACTIVE')).addresses).toEqual({})
    // Nova's basic addresses (version and addr only) in /ips and in update's answer before 2.75, as
    // Tempest's response schemas require; the extended ones from 2.75.
    const ips = (await call(alice, 'GET', `${compute}/servers/${fixed.body.server.id}/ips/boot-net`)).body
    expect(ips['boot-net']).toEqual([{ version: 4, addr: '10.77.0.40' }])
    expect((await call(alice, 'GET', `${compute}/servers/${fixed.body.server.id}/ips`)).body.addresses).toEqual({ 'boot-net': [{ version: 4, addr: '10.77.0.40' }] })
    const renamed = await call(alice, 'PUT', `${compute}/servers/${fixed.body.server.id}`, { server: { name: 'b-fixed-renamed' } })
    expect(renamed.body.server.addresses).toEqual({ 'boot-net': [{ version: 4, addr: '10.77.0.40' }] })
    const renamed275 = await call(alice, 'PUT', `${compute}/servers/${fixed.body.server.id}`, { server: { name: 'b-fixed-2' } }, { 'openstack-api-version': 'compute 2.75' })
    expect(renamed275.body.server.addresses['boot-net'][0]['OS-EXT-IPS:type']).toBe('fixed')
    const bound = (await call(admin, 'GET', `${endpoint(admin, 'network', 'federation')}/v2.0/ports?device_id=${fixed.body.server.id}`)).body.ports
    await waitFor('bound', async () => ((await call(admin, 'GET', `${endpoint(admin, 'network', 'federation')}/v2.0/ports/${bound[0].id}`)).body.port.status === 'ACTIVE' ? true : undefined))
    // Deleting the servers: the created port goes, the given port is unbound, the address is free.
    expect((await call(alice, 'DELETE', `${compute}/servers/${fixed.body.server.id}`)).status).toBe(204)
    expect((await call(alice, 'DELETE', `${compute}/servers/${viaPort.body.server.id}`)).status).toBe(204)
    await waitFor('ports released', async () => {
      const left = (await call(alice, 'GET', `${net}/v2.0/ports?network_id=${n.id}`)).body.ports
      return left.length === 1 && left[0].device_id === '' ? true : undefined
    })
    const reuse = await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: n.id, fixed_ips: [{ subnet_id: sub.id, ip_address: '10.77.0.40' }] } })
    expect(reuse.status).toBe(201)
  })

  it('gives a plain boot an address on its region network; several own networks are ambiguous for auto', async () => {
    const dave = await memberSession(fed, admin, 'dave-net')
    const one = endpoint(dave, 'compute', 'region-one')
    const r = await call(dave, 'POST', `${one}/servers`, { server: { name: 'plain', imageRef, flavorRef: '1' } })
    expect(r.status).toBe(202)
    const s = await waitForStatus(dave, one, r.body.server.id, 'ACTIVE')
    expect(s.addresses['region-one-net'][0].addr).toMatch(/^10\.1\./)
    // Through the federation-wide endpoint, the federation-wide network: the build may go anywhere.
    const g = await call(dave, 'POST', `${compute}/servers`, { server: { name: 'plain-global', imageRef, flavorRef: '1' } })
    const gs = await waitForStatus(dave, compute, g.body.server.id, 'ACTIVE')
    expect(gs.addresses['federation-net'][0].addr).toMatch(/^10\.0\./)
    const ambiguous = await call(alice, 'POST', `${computeOne}/servers`, { server: { name: 'amb', imageRef, flavorRef: '1' } })
    expect(ambiguous.status).toBe(409)
  })

  it('never gives one address twice to 200 concurrent boots through two regions on one federation-wide network', async () => {
    const erin = await memberSession(fed, admin, 'erin-net')
    const nova = endpoint(admin, 'compute', 'federation')
    expect((await call(admin, 'PUT', `${nova}/os-quota-sets/${erin.projectId}`, { quota_set: { instances: -1, cores: -1, ram: -1 } })).status).toBe(200)
    const adminNet = endpoint(admin, 'network', 'federation')
    const wide = (await call(admin, 'POST', `${adminNet}/v2.0/networks`, { network: { name: 'wide', shared: true } })).body.network
    // Federation-wide: every region's endpoint sees it.
    expect((await call(erin, 'GET', `${endpoint(erin, 'network', 'region-two')}/v2.0/networks/${wide.id}`)).status).toBe(200)
    await call(admin, 'POST', `${adminNet}/v2.0/subnets`, { subnet: { network_id: wide.id, cidr: '10.250.0.0/24', ip_version: 4 } })
    const urls = [endpoint(erin, 'compute', 'region-one'), endpoint(erin, 'compute', 'region-two')]
    const mv = { 'OpenStack-API-Version': 'compute 2.37', 'X-OpenStack-Nova-API-Version': '2.37' }
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => call(erin, 'POST', `${urls[i % 2]}/servers`, { server: { name: `wide-${i}`, imageRef, flavorRef: '1', networks: [{ uuid: wide.id }] } }, mv)),
    )
    expect(replies.map((r) => r.status).filter((s) => s !== 202)).toEqual([])
    const ports = (await call(admin, 'GET', `${adminNet}/v2.0/ports?network_id=${wide.id}`)).body.ports
    expect(ports.length).toBe(200)
    const addrs = ports.map((p: any) => p.fixed_ips[0].ip_address)
    expect(new Set(addrs).size).toBe(200)
    expect(new Set(ports.map((p: any) => p.device_id)).size).toBe(200)
    // Every server shows its own address (one page of the detail list, one query for the page).
    const detail = (await call(erin, 'GET', `${endpoint(erin, 'compute', 'federation')}/servers/detail?limit=1000`)).body.servers
    const shown = detail.flatMap((s: any) => (s.addresses['wide'] ?? []).map((a: any) => a.addr))
    expect(new Set(shown).size).toBe(200)
  }, 120_000)

  it('releases the ports of a server that ended in cell0 when it is deleted', async () => {
    const nova = endpoint(admin, 'compute', 'federation')
    const flavor = (await call(admin, 'POST', `${nova}/flavors`, { flavor: { name: 'too-big-net', ram: 64 * 1024 * 1024, vcpus: 1, disk: 1 } })).body.flavor
    const frank = await memberSession(fed, admin, 'frank-net')
    expect((await call(admin, 'PUT', `${nova}/os-quota-sets/${frank.projectId}`, { quota_set: { ram: -1 } })).status).toBe(200)
    const r = await call(frank, 'POST', `${endpoint(frank, 'compute', 'region-two')}/servers`, { server: { name: 'nowhere', imageRef, flavorRef: flavor.id } })
    expect(r.status).toBe(202)
    const id = r.body.server.id
    const s = await waitForStatus(frank, compute, id, 'ERROR')
    expect(s.addresses['region-two-net']).toHaveLength(1)
    const frankNet = endpoint(frank, 'network', 'federation')
    expect((await call(frank, 'GET', `${frankNet}/v2.0/ports?device_id=${id}`)).body.ports).toHaveLength(1)
    expect((await call(frank, 'DELETE', `${compute}/servers/${id}`)).status).toBe(204)
    expect((await call(frank, 'GET', `${frankNet}/v2.0/ports?device_id=${id}`)).body.ports).toEqual([])
  })

  it('updates networks, subnets and ports; refuses bad input without changing anything', async () => {
    const n = (await call(alice, 'POST', `${net}/v2.0/networks`, { network: { name: 'upd' } })).body.network
    const sub = (await call(alice, 'POST', `${net}/v2.0/subnets`, { subnet: { network_id: n.id, cidr: '172.20.0.0/28', ip_version: 4 } })).body.subnet
    const renamed = await call(alice, 'PUT', `${net}/v2.0/networks/${n.id}`, { network: { name: 'upd2' } })
    expect(renamed.body.network).toMatchObject({ name: 'upd2', revision_number: 2 })
    expect((await call(alice, 'PUT', `${net}/v2.0/subnets/${sub.id}`, { subnet: { dns_nameservers: ['1.1.1.1'] } })).body.subnet.dns_nameservers).toEqual(['1.1.1.1'])
    expect((await call(alice, 'PUT', `${net}/v2.0/subnets/${sub.id}`, { subnet: { cidr: '172.21.0.0/28' } })).status).toBe(400)
    // A port's groups must exist (the security group store's bindings are their record).
    const unknownGroup = await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: n.id, security_groups: ['5a3c1f7e-2d4b-4c6a-8e9f-0a1b2c3d4e5f'] } })
    expect(unknownGroup.status).toBe(404)
    expect(unknownGroup.body.NeutronError.type).toBe('SecurityGroupNotFound')
    const sg = (await call(alice, 'POST', `${net}/v2.0/security-groups`, { security_group: { name: 'upd-sg' } })).body.security_group
    const p = (await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: n.id, security_groups: [sg.id] } })).body.port
    expect(p.security_groups).toEqual([sg.id])
    expect(p.port_security_enabled).toBe(true)
    const moved = await call(alice, 'PUT', `${net}/v2.0/ports/${p.id}`, { port: { name: 'renamed', fixed_ips: [{ subnet_id: sub.id, ip_address: '172.20.0.9' }] } })
    expect(moved.body.port).toMatchObject({ name: 'renamed', fixed_ips: [{ subnet_id: sub.id, ip_address: '172.20.0.9' }] })
    // The old address is free again, the new one is held.
    expect((await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: n.id, fixed_ips: [{ ip_address: p.fixed_ips[0].ip_address }] } })).status).toBe(201)
    expect((await call(alice, 'POST', `${net}/v2.0/ports`, { port: { network_id: n.id, fixed_ips: [{ ip_address: '172.20.0.9' }] } })).status).toBe(409)
    // A non-admin may not bind, read others' quotas or set any.
    expect((await call(alice, 'PUT', `${net}/v2.0/ports/${p.id}`, { port: { 'binding:host_id': 'h' } })).status).toBe(403)
    expect((await call(alice, 'PUT', `${net}/v2.0/quotas/${alice.projectId}`, { quota: { network: 1000 } })).status).toBe(403)
    const bad = await call(alice, 'POST', `${net}/v2.0/networks`, { network: { name: 'x', admin_state_up: 'maybe' } })
    expect(bad.status).toBe(400)
    expect(bad.body.NeutronError.type).toBe('HTTPBadRequest')
    expect((await call(alice, 'GET', `${net}/v2.0/networks?name=x`)).body.networks).toEqual([])
    expect((await call(alice, 'DELETE', `${net}/v2.0/subnets/${sub.id}`)).body.NeutronError.type).toBe('SubnetInUse')
    expect((await call(undefined, 'GET', `${net}/v2.0/networks`)).body.NeutronError.type).toBe('HTTPUnauthorized')
  })

  it('allocates for every server of a multi-create and refuses a fixed IP or a port for several', async () => {
    const gina = await memberSession(fed, admin, 'gina-net')
    const one = endpoint(gina, 'compute', 'region-one')
    const gnet = endpoint(gina, 'network', 'region-one')
    const n = (await call(gina, 'POST', `${gnet}/v2.0/networks`, { network: { name: 'multi' } })).body.network
    await call(gina, 'POST', `${gnet}/v2.0/subnets`, { subnet: { network_id: n.id, cidr: '10.66.0.0/24', ip_version: 4 } })
    const mv = { 'OpenStack-API-Version': 'compute 2.37', 'X-OpenStack-Nova-API-Version': '2.37' }
    const many = await call(gina, 'POST', `${one}/servers`, { server: { name: 'multi', imageRef, flavorRef: '1', min_count: 3, networks: [{ uuid: n.id }] } }, mv)
    expect(many.status).toBe(202)
    const ports = (await call(gina, 'GET', `${gnet}/v2.0/ports?network_id=${n.id}`)).body.ports
    expect(ports).toHaveLength(3)
    expect(new Set(ports.map((p: any) => p.device_id)).size).toBe(3)
    const fixed = await call(gina, 'POST', `${one}/servers`, { server: { name: 'm2', imageRef, flavorRef: '1', max_count: 2, networks: [{ uuid: n.id, fixed_ip: '10.66.0.50' }] } }, mv)
    expect(fixed.status).toBe(400)
    // Over the instance quota (10 by default): nothing is accepted, no port is left behind.
    const over = await call(gina, 'POST', `${one}/servers`, { server: { name: 'm3', imageRef, flavorRef: '1', min_count: 20, networks: [{ uuid: n.id }] } }, mv)
    expect(over.status).toBe(403)
    expect((await call(gina, 'GET', `${gnet}/v2.0/ports?network_id=${n.id}`)).body.ports).toHaveLength(3)
  })
})
