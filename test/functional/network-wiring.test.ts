import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { instanceIdSignature } from '../../api-cell/metadata/metadata-server.js'
import type { Federation } from '../../bin/embedded.js'
import type { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser } from '../helpers/project-user.js'

const SECRET = 'wtn5-proxy-secret'

/** GET from a chosen loopback source address (Linux routes all of 127/8 to lo). */
function get(base: string, path: string, from: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'GET', localAddress: from, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * The network parts wired together in the embedded federation (fake driver): a boot names a
 * security group, its rules reach the host with the build, the group is in use, Nova's proxy
 * lists it, a floating IP associates with the server's port, and the metadata listener of the
 * server's region finds the server by its fixed address through the network service.
 */
describe('embedded federation: security groups, floating IPs and metadata over the port service', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let alice: ProjectUser
  let nova: string
  let neutron: string
  let serverId: string
  let portId: string
  let fixedIp: string
  let webId: string

  beforeAll(async () => {
    process.env['FEDERATION_METADATA_PROXY_SECRET'] = SECRET
    try {
      cfg = embeddedConfig(undefined, { driver: 'fake' })
    } finally {
      delete process.env['FEDERATION_METADATA_PROXY_SECRET']
    }
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    alice = await createProjectUser(fed.api.urls.identity, admin, 'alice-wtn5-net')
    nova = endpoint(alice.session, 'compute', 'region-one')
    neutron = endpoint(alice.session, 'network', 'region-one')
    const cirros = (await call(alice.session, 'GET', `${endpoint(alice.session, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id as string

    // A network of region-one on loopback addresses, so that the test can send from the fixed IP.
    const net = (await call(alice.session, 'POST', `${neutron}/v2.0/networks`, { network: { name: 'lo-net' } })).body.network
    expect((await call(alice.session, 'POST', `${neutron}/v2.0/subnets`, { subnet: { network_id: net.id, cidr: '127.55.0.0/24', ip_version: 4 } })).status).toBe(201)

    const web = await call(alice.session, 'POST', `${neutron}/v2.0/security-groups`, { security_group: { name: 'web' } })
    expect(web.status).toBe(201)
    webId = web.body.security_group.id
    const rule = await call(alice.session, 'POST', `${neutron}/v2.0/security-group-rules`, {
      security_group_rule: { security_group_id: webId, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '0.0.0.0/0' },
    })
    expect(rule.status).toBe(201)

    // A group that does not exist: 400 as Nova answers, and no port is left behind.
    const before = (await call(alice.session, 'GET', `${neutron}/v2.0/ports?network_id=${net.id}`)).body.ports.length
    const bad = await call(alice.session, 'POST', `${nova}/servers`, { server: { name: 'sg-bad', imageRef: cirros, flavorRef: '1', networks: [{ uuid: net.id }], security_groups: [{ name: 'no-such-group' }] } })
    expect(bad.status).toBe(400)
    expect(bad.body.badRequest.message).toContain('no-such-group')
    expect((await call(alice.session, 'GET', `${neutron}/v2.0/ports?network_id=${net.id}`)).body.ports.length).toBe(before)

    const created = await call(alice.session, 'POST', `${nova}/servers`, { server: { name: 'sg-web', imageRef: cirros, flavorRef: '1', networks: [{ uuid: net.id }], security_groups: [{ name: 'web' }] } })
    expect(created.status).toBe(202)
    expect(created.body.server.security_groups).toEqual([{ name: 'web' }])
    serverId = created.body.server.id
    await waitForStatus(alice.session, nova, serverId, 'ACTIVE')
    const ports = (await call(alice.session, 'GET', `${neutron}/v2.0/ports?device_id=${serverId}`)).body.ports.filter((p: any) => p.device_id === serverId)
    expect(ports).toHaveLength(1)
    portId = ports[0].id
    fixedIp = ports[0].fixed_ips[0].ip_address
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('lists security groups and floating IPs among the resources of /v2.0', async () => {
    const doc = await call(alice.session, 'GET', `${neutron}/v2.0`)
    expect(doc.body.resources.map((r: any) => r.collection)).toEqual(expect.arrayContaining(['ports', 'security-groups', 'security-group-rules', 'floatingips']))
  })

  it('binds the boot’s group to the port, and its rules reach the host’s packet filter', async () => {
    const port = (await call(alice.session, 'GET', `${neutron}/v2.0/ports/${portId}`)).body.port
    expect(port.security_groups).toEqual([webId])
    const show = (await call(alice.session, 'GET', `${nova}/servers/${serverId}`)).body.server
    expect(show.security_groups).toEqual([{ name: 'web' }])
    const host = (await call(admin, 'GET', `${endpoint(admin, 'compute', 'region-one')}/servers/${serverId}`)).body.server['OS-EXT-SRV-ATTR:host'] as string
    const driver = fed.driverOf(host) as FakeDriver
    const filter = driver.networkOf(serverId).filters.get(portId) ?? []
    expect(filter).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'accept', direction: 'in', ethertype: 'IPv4', protocol: 'tcp', portMin: 22, portMax: 22 })]))
  })

  it('refuses to delete a group in use (409), and Nova’s proxy lists the server’s groups', async () => {
    const del = await call(alice.session, 'DELETE', `${neutron}/v2.0/security-groups/${webId}`)
    expect(del.status).toBe(409)
    expect(del.body.NeutronError.type).toBe('SecurityGroupInUse')
    const listed = await call(alice.session, 'GET', `${nova}/servers/${serverId}/os-security-groups`)
    expect(listed.status).toBe(200)
    expect(listed.body.security_groups.map((g: any) => g.name)).toEqual(['web'])
    expect(listed.body.security_groups[0].rules).toEqual(expect.arrayContaining([expect.objectContaining({ ip_protocol: 'tcp', from_port: 22, to_port: 22 })]))
  })

  it('associates a floating IP of a router:external network with the server’s port', async () => {
    const ext = await call(admin, 'POST', `${endpoint(admin, 'network', 'region-one')}/v2.0/networks`, { network: { name: 'public-wtn5', 'router:external': true } })
    expect(ext.status).toBe(201)
    expect((await call(admin, 'POST', `${endpoint(admin, 'network', 'region-one')}/v2.0/subnets`, { subnet: { network_id: ext.body.network.id, cidr: '203.0.113.0/28', ip_version: 4 } })).status).toBe(201)
    const fip = await call(alice.session, 'POST', `${neutron}/v2.0/floatingips`, { floatingip: { floating_network_id: ext.body.network.id } })
    expect(fip.status).toBe(201)
    const assoc = await call(alice.session, 'PUT', `${neutron}/v2.0/floatingips/${fip.body.floatingip.id}`, { floatingip: { port_id: portId } })
    expect(assoc.status).toBe(200)
    expect(assoc.body.floatingip).toMatchObject({ port_id: portId, fixed_ip_address: fixedIp, status: 'ACTIVE' })
    // A floating IP never takes an address a port holds, and a port never takes a floating IP's.
    const clash = await call(admin, 'POST', `${endpoint(admin, 'network', 'region-one')}/v2.0/ports`, { port: { network_id: ext.body.network.id, fixed_ips: [{ ip_address: fip.body.floatingip.floating_ip_address }] } })
    expect(clash.status).toBe(409)
  })

  it('the region’s metadata listener finds the server by its fixed address (the real lookup)', async () => {
    const url = fed.api.metadataUrls['region-one'] ?? ''
    const md = await get(url, '/openstack/latest/meta_data.json', fixedIp)
    expect(md.status).toBe(200)
    expect(JSON.parse(md.body)).toMatchObject({ uuid: serverId, name: 'sg-web' })
    const nd = await get(url, '/openstack/latest/network_data.json', fixedIp)
    expect(nd.status).toBe(200)
    expect(JSON.stringify(JSON.parse(nd.body))).toContain(fixedIp)
    expect(await get(url, '/latest/meta-data/security-groups', fixedIp)).toMatchObject({ status: 200, body: 'web' })
    // Another region's listener does not serve it, nor does an address no port holds.
    expect((await get(fed.api.metadataUrls['region-two'] ?? '', '/openstack/latest/meta_data.json', fixedIp)).status).toBe(404)
    expect((await get(url, '/openstack/latest/meta_data.json', '127.55.0.250')).status).toBe(404)
    // Through a proxy: the signed instance id, X-Forwarded-For the fixed address.
    const proxied = await get(url, '/latest/meta-data/local-ipv4', '127.0.0.1', { 'X-Instance-ID': serverId, 'X-Instance-ID-Signature': instanceIdSignature(SECRET, serverId), 'X-Tenant-ID': alice.projectId, 'X-Forwarded-For': fixedIp })
    expect(proxied).toMatchObject({ status: 200, body: fixedIp })
  })

  it('releases the port and its group binding when the server is deleted: the group can then go', async () => {
    expect((await call(alice.session, 'DELETE', `${nova}/servers/${serverId}`)).status).toBe(204)
    await waitFor('port released', async () => ((await call(alice.session, 'GET', `${neutron}/v2.0/ports/${portId}`)).status === 404 ? true : undefined))
    const fips = (await call(alice.session, 'GET', `${neutron}/v2.0/floatingips`)).body.floatingips
    expect(fips.every((f: any) => f.port_id === null && f.status === 'DOWN')).toBe(true)
    expect((await call(alice.session, 'DELETE', `${neutron}/v2.0/security-groups/${webId}`)).status).toBe(204)
  })
})
