import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { instanceIdSignature } from '../../api-cell/metadata/metadata-server.js'
import type { Federation } from '../../bin/embedded.js'
import type { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import type { AddressLookup } from '../../shared/network/network-info.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser } from '../helpers/project-user.js'

const SECRET = 'wtn4-proxy-secret'
const USER_DATA = '#cloud-config\nhostname: from-user-data\n'

/** The test's stand-in for the network service: fixed addresses by region. */
const owners = new Map<string, { region: string; instanceUuid: string; projectId: string }>()
const lookup: AddressLookup = {
  instanceByAddress: ({ ipAddress, region }) => {
    const o = owners.get(ipAddress)
    // 127.0.0.4 answers whatever the region: the listener must still refuse another region's instance.
    return Promise.resolve(o === undefined || (o.region !== region && ipAddress !== '127.0.0.4') ? undefined : { instanceUuid: o.instanceUuid, projectId: o.projectId })
  },
}

/** GET from a chosen loopback source address (Linux routes all of 127/8 to lo). */
function get(base: string, path: string, from: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'GET', localAddress: from, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }))
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * The metadata API end to end in the embedded federation (fake driver): one listener per region,
 * a server found by its address (the region's lookup) or by a signed X-Instance-ID, its own data
 * and nobody else's.
 */
describe('embedded federation: the metadata API', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let alice: ProjectUser
  let bob: ProjectUser
  let one: string
  let two: string
  let a: string
  let b: string
  let publicKey: string

  beforeAll(async () => {
    process.env['FEDERATION_METADATA_PROXY_SECRET'] = SECRET
    try {
      cfg = embeddedConfig(undefined, { driver: 'fake' })
    } finally {
      delete process.env['FEDERATION_METADATA_PROXY_SECRET']
    }
    fed = await startFederation(cfg, { addressLookup: lookup })
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    alice = await createProjectUser(fed.api.urls.identity, admin, 'alice-wtn4-md')
    bob = await createProjectUser(fed.api.urls.identity, admin, 'bob-wtn4-md')
    const novaOne = endpoint(alice.session, 'compute', 'region-one')
    const novaTwo = endpoint(bob.session, 'compute', 'region-two')
    const glance = endpoint(alice.session, 'image', 'region-one')
    const cirros = (await call(alice.session, 'GET', `${glance}/v2/images?name=cirros`)).body.images[0].id as string
    const key = await call(alice.session, 'POST', `${novaOne}/os-keypairs`, { keypair: { name: 'k-alice' } })
    expect(key.status).toBe(200)
    publicKey = key.body.keypair.public_key as string
    const ra = await call(alice.session, 'POST', `${novaOne}/servers`, {
      server: { name: 'md-a', imageRef: cirros, flavorRef: '1', key_name: 'k-alice', metadata: { role: 'web' }, user_data: Buffer.from(USER_DATA).toString('base64') },
    })
    expect(ra.status).toBe(202)
    a = ra.body.server.id as string
    const rb = await call(bob.session, 'POST', `${novaTwo}/servers`, { server: { name: 'md-b', imageRef: cirros, flavorRef: '1' } })
    expect(rb.status).toBe(202)
    b = rb.body.server.id as string
    await waitForStatus(alice.session, novaOne, a, 'ACTIVE')
    await waitForStatus(bob.session, novaTwo, b, 'ACTIVE')
    owners.set('127.0.0.1', { region: 'region-one', instanceUuid: a, projectId: alice.projectId })
    owners.set('127.0.0.4', { region: 'region-one', instanceUuid: a, projectId: alice.projectId })
    owners.set('127.0.0.5', { region: 'region-two', instanceUuid: b, projectId: bob.projectId })
    one = fed.api.metadataUrls['region-one'] ?? ''
    two = fed.api.metadataUrls['region-two'] ?? ''
  }, 90_000)

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('serves one listener per region', () => {
    expect(Object.keys(fed.api.metadataUrls).sort()).toEqual(['region-one', 'region-two'])
    expect(new URL(two).port).not.toBe(new URL(one).port)
  })

  it('a known address gets its own instance’s OpenStack and EC2 metadata', async () => {
    const md = await get(one, '/openstack/latest/meta_data.json', '127.0.0.1')
    expect(md.status).toBe(200)
    expect(md.type).toContain('application/json')
    expect(JSON.parse(md.body)).toMatchObject({
      uuid: a, name: 'md-a', hostname: 'md-a', project_id: alice.projectId, launch_index: 0, meta: { role: 'web' },
      public_keys: { 'k-alice': publicKey }, keys: [{ name: 'k-alice', type: 'ssh', data: publicKey }], devices: [],
    })
    expect(await get(one, '/openstack/latest/user_data', '127.0.0.1')).toMatchObject({ status: 200, body: USER_DATA })
    expect(await get(one, '/latest/user-data', '127.0.0.1')).toMatchObject({ status: 200, body: USER_DATA })
    expect(await get(one, '/latest/meta-data/instance-id', '127.0.0.1')).toMatchObject({ status: 200, body: `i-${a.slice(0, 8)}` })
    expect(await get(one, '/latest/meta-data/public-keys/0/openssh-key', '127.0.0.1')).toMatchObject({ status: 200, body: publicKey })
    expect(await get(one, '/openstack/latest/vendor_data2.json', '127.0.0.1')).toMatchObject({ status: 200, body: '{}' })
    const other = await get(two, '/openstack/latest/meta_data.json', '127.0.0.5')
    expect(other.status).toBe(200)
    expect(JSON.parse(other.body)).toMatchObject({ uuid: b, project_id: bob.projectId })
    expect(await get(two, '/openstack/latest/user_data', '127.0.0.5')).toMatchObject({ status: 404 })
  })

  it('an address that is no instance of the region gets 404, never another instance’s data', async () => {
    expect((await get(one, '/openstack/latest/meta_data.json', '127.0.0.2')).status).toBe(404)
    // Bob's address asks region-one's listener: the lookup is scoped to region-one.
    expect((await get(one, '/openstack/latest/meta_data.json', '127.0.0.5')).status).toBe(404)
    // A lookup that answers another region's instance is still refused by region-two's listener.
    const wrong = await get(two, '/openstack/latest/meta_data.json', '127.0.0.4')
    expect(wrong.status).toBe(404)
    expect(wrong.body).not.toContain(a)
    // The root listing needs no instance.
    expect(await get(one, '/', '127.0.0.2')).toMatchObject({ status: 200, body: expect.stringContaining('latest') })
  })

  it('a proxy’s signed X-Instance-ID: the right signature 200, a wrong one 403, another tenant or region 404', async () => {
    const signed = (id: string, tenant: string, sig = instanceIdSignature(SECRET, id)) => ({ 'X-Instance-ID': id, 'X-Instance-ID-Signature': sig, 'X-Tenant-ID': tenant, 'X-Forwarded-For': '10.0.0.7' })
    const ok = await get(one, '/openstack/latest/meta_data.json', '127.0.0.2', signed(a, alice.projectId))
    expect(ok.status).toBe(200)
    expect(JSON.parse(ok.body)).toMatchObject({ uuid: a })
    // local-ipv4 is the server's fixed address from its ports (the network service), not the proxy's header.
    const addresses = (await call(alice.session, 'GET', `${endpoint(alice.session, 'compute', 'region-one')}/servers/${a}`)).body.server.addresses as Record<string, { addr: string; version: number }[]>
    const fixed = Object.values(addresses).flat().find((x) => x.version === 4)?.addr
    expect(fixed).toBeDefined()
    expect(await get(one, '/latest/meta-data/local-ipv4', '127.0.0.2', signed(a, alice.projectId))).toMatchObject({ status: 200, body: fixed })
    const bad = await get(one, '/openstack/latest/meta_data.json', '127.0.0.2', signed(a, alice.projectId, instanceIdSignature('not-the-secret', a)))
    expect(bad.status).toBe(403)
    expect(bad.body).toContain('Invalid proxy request signature')
    // A signature of another instance id does not sign this one.
    expect((await get(one, '/latest/meta-data/', '127.0.0.1', signed(a, alice.projectId, instanceIdSignature(SECRET, b)))).status).toBe(403)
    expect((await get(one, '/openstack/latest/meta_data.json', '127.0.0.2', signed(a, bob.projectId))).status).toBe(404)
    expect((await get(one, '/openstack/latest/meta_data.json', '127.0.0.2', signed(b, bob.projectId))).status).toBe(404)
    expect((await get(two, '/openstack/latest/meta_data.json', '127.0.0.2', signed(b, bob.projectId))).status).toBe(200)
    const noTenant = await get(one, '/openstack/latest/meta_data.json', '127.0.0.2', { 'X-Instance-ID': a, 'X-Instance-ID-Signature': instanceIdSignature(SECRET, a) })
    expect(noTenant.status).toBe(400)
  })

  it('an address the lookup gives to an instance that does not exist is 404', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000'
    owners.set('127.0.0.6', { region: 'region-one', instanceUuid: unknown, projectId: alice.projectId })
    expect((await get(one, '/openstack/latest/meta_data.json', '127.0.0.6')).status).toBe(404)
  })

  it('config drive through the compute API: config_drive true, or an image with img_config_drive=mandatory; server show says "True"', async () => {
    const nova = endpoint(alice.session, 'compute', 'region-one')
    const glance = endpoint(admin, 'image', 'region-one')
    const cirros = (await call(alice.session, 'GET', `${glance}/v2/images?name=cirros`)).body.images[0].id as string
    const boot = (server: Record<string, unknown>) => call(alice.session, 'POST', `${nova}/servers`, { server: { imageRef: cirros, flavorRef: '1', ...server } })
    const bad = await boot({ name: 'cd-bad', config_drive: 'maybe' })
    expect(bad.status).toBe(400)
    expect(bad.body).toHaveProperty('badRequest')
    const plain = await boot({ name: 'cd-none' })
    const withDrive = await boot({ name: 'cd-yes', config_drive: true })
    expect(withDrive.status).toBe(202)
    const id = withDrive.body.server.id as string
    await waitForStatus(alice.session, nova, id, 'ACTIVE')
    await waitForStatus(alice.session, nova, plain.body.server.id as string, 'ACTIVE')
    expect((await call(alice.session, 'GET', `${nova}/servers/${id}`)).body.server.config_drive).toBe('True')
    expect((await call(alice.session, 'GET', `${nova}/servers/${plain.body.server.id as string}`)).body.server.config_drive).toBe('')
    const host = (await call(admin, 'GET', `${endpoint(admin, 'compute', 'region-one')}/servers/${id}`)).body.server['OS-EXT-SRV-ATTR:host'] as string
    expect((fed.driverOf(host) as FakeDriver).configDriveOf(id)).toMatch(/disk\.config$/)
    // The image's own policy: an invalid value refuses the boot, mandatory gives a drive.
    const patch = (value: string) =>
      call(admin, 'PATCH', `${glance}/v2/images/${cirros}`, JSON.stringify([{ op: 'add', path: '/img_config_drive', value }]), { 'content-type': 'application/openstack-images-v2.1-json-patch' })
    expect((await patch('sometimes')).status).toBe(200)
    const refused = await boot({ name: 'cd-img-bad' })
    expect(refused.status).toBe(400)
    expect(JSON.stringify(refused.body)).toContain("config drive option 'sometimes' is invalid")
    expect((await patch('mandatory')).status).toBe(200)
    const forced = await boot({ name: 'cd-img' })
    expect(forced.status).toBe(202)
    await waitForStatus(alice.session, nova, forced.body.server.id as string, 'ACTIVE')
    expect((await call(alice.session, 'GET', `${nova}/servers/${forced.body.server.id as string}`)).body.server.config_drive).toBe('True')
  }, 60_000)
})
