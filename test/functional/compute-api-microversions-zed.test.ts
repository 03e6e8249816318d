import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Reply, Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b])
const sshKey = (seed: number): string => `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(Buffer.alloc(32, seed))]).toString('base64')} k`

/** Microversions 2.74 to 2.93 as Nova Zed serves them (those of the API surface). */
describe('compute API: microversions up to 2.93', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let member: ProjectUser
  let nova: string
  let imageRef: string
  let serverId: string

  const fault = (r: Reply, status: number, name: string): void => {
    expect(r.status).toBe(status)
    expect(Object.keys(r.body)).toEqual([name])
    expect(r.body[name].code).toBe(status)
  }
  const count = async (): Promise<number> => (await call(member.session, 'GET', `${nova}/servers`)).body.servers.length

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    member = await createProjectUser(fed.api.urls.identity, admin, 'mv-member')
    nova = endpoint(member.session, 'compute', 'region-one')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    const r = await call(member.session, 'POST', `${nova}/servers`, { server: { name: 'My VM', hostname: 'custom-host', imageRef, flavorRef: '1', networks: 'none' } }, mv('2.90'))
    expect(r.status).toBe(202)
    serverId = r.body.server.id
    await waitForStatus(member.session, nova, serverId, 'ACTIVE')
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('serves 2.93 at most, and latest is 2.93', async () => {
    const top = await call(member.session, 'GET', `${nova}/servers`, undefined, mv('2.93'))
    expect(top.status).toBe(200)
    expect(top.headers.get('openstack-api-version')).toBe('compute 2.93')
    const latest = await call(member.session, 'GET', `${nova}/servers`, undefined, mv('latest'))
    expect(latest.headers.get('openstack-api-version')).toBe('compute 2.93')
    for (const v of ['2.75', '2.86']) expect((await call(member.session, 'GET', `${nova}/flavors`, undefined, mv(v))).status).toBe(200)
    expect((await call(member.session, 'GET', `${nova}/servers`, undefined, mv('2.94'))).status).toBe(406)
    const root = await call(undefined, 'GET', `${fed.api.urls.compute}/v2.1/`)
    expect(root.body.version.version).toBe('2.93')
  })

  it('refuses unknown list query parameters from 2.75 (400), ignores them before', async () => {
    expect((await call(member.session, 'GET', `${nova}/servers?foo=bar`, undefined, mv('2.74'))).status).toBe(200)
    fault(await call(member.session, 'GET', `${nova}/servers?foo=bar`, undefined, mv('2.75')), 400, 'badRequest')
    fault(await call(member.session, 'GET', `${nova}/servers/detail?foo=bar`, undefined, mv('2.75')), 400, 'badRequest')
    expect((await call(member.session, 'GET', `${nova}/servers?name=My&limit=2&_x=1`, undefined, mv('2.75'))).status).toBe(200)
  })

  it('answers update with the full representation from 2.75, the basic one before', async () => {
    const old = await call(member.session, 'PUT', `${nova}/servers/${serverId}`, { server: { name: 'My VM' } }, mv('2.74'))
    expect(old.status).toBe(200)
    expect(old.body.server['OS-EXT-STS:vm_state']).toBeUndefined()
    const full = await call(member.session, 'PUT', `${nova}/servers/${serverId}`, { server: { name: 'My VM' } }, mv('2.75'))
    expect(full.body.server['OS-EXT-STS:vm_state']).toBe('active')
    expect(full.body.server.trusted_image_certificates).toBeNull()
    expect(full.body.server['OS-EXT-AZ:availability_zone']).toEqual(expect.any(String))
    const shown = await call(member.session, 'GET', `${nova}/servers/${serverId}`, undefined, mv('2.75'))
    expect(Object.keys(full.body.server).sort()).toEqual(Object.keys(shown.body.server).sort())
  })

  it('sets the hostname at boot and on update from 2.90, shows it to its owner, validates it', async () => {
    const shown = await call(member.session, 'GET', `${nova}/servers/${serverId}`, undefined, mv('2.90'))
    expect(shown.body.server['OS-EXT-SRV-ATTR:hostname']).toBe('custom-host')
    expect((await call(member.session, 'GET', `${nova}/servers/${serverId}`, undefined, mv('2.89'))).body.server['OS-EXT-SRV-ATTR:hostname']).toBeUndefined()
    const updated = await call(member.session, 'PUT', `${nova}/servers/${serverId}`, { server: { hostname: 'renamed-1' } }, mv('2.90'))
    expect(updated.status).toBe(200)
    expect(updated.body.server['OS-EXT-SRV-ATTR:hostname']).toBe('renamed-1')
    for (const bad of ['a', '-lead', 'trail-', 'has_underscore', 'has.dot', 'x'.repeat(64)]) {
      fault(await call(member.session, 'PUT', `${nova}/servers/${serverId}`, { server: { hostname: bad } }, mv('2.90')), 400, 'badRequest')
    }
    fault(await call(member.session, 'PUT', `${nova}/servers/${serverId}`, { server: { hostname: 'fine-name' } }, mv('2.89')), 400, 'badRequest')
    expect((await call(member.session, 'GET', `${nova}/servers/${serverId}`, undefined, mv('2.90'))).body.server['OS-EXT-SRV-ATTR:hostname']).toBe('renamed-1')
    const before = await count()
    const boot = (server: Record<string, unknown>, v: string): Promise<Reply> =>
      call(member.session, 'POST', `${nova}/servers`, { server: { name: 'h', imageRef, flavorRef: '1', networks: 'none', ...server } }, mv(v))
    fault(await boot({ hostname: 'ok-name' }, '2.89'), 400, 'badRequest')
    fault(await boot({ hostname: 'bad_name' }, '2.90'), 400, 'badRequest')
    fault(await boot({ hostname: 'ok-name', max_count: 2 }, '2.90'), 400, 'badRequest')
    expect(await count()).toBe(before)
  })

  it('requires public_key and admits @ and . in key pair names from 2.92', async () => {
    const kp = (body: Record<string, unknown>, v: string): Promise<Reply> => call(member.session, 'POST', `${nova}/os-keypairs`, { keypair: body }, mv(v))
    fault(await kp({ name: 'generated' }, '2.92'), 400, 'badRequest')
    fault(await kp({ name: 'me@example.com', public_key: sshKey(1) }, '2.91'), 400, 'badRequest')
    fault(await kp({ name: ' padded', public_key: sshKey(1) }, '2.92'), 400, 'badRequest')
    const ok = await kp({ name: 'me@example.com', public_key: sshKey(1) }, '2.92')
    expect(ok.status).toBe(201)
    expect(ok.body.keypair.name).toBe('me@example.com')
    expect(ok.body.keypair.private_key).toBeUndefined()
    const listed = await call(member.session, 'GET', `${nova}/os-keypairs`, undefined, mv('2.92'))
    expect(listed.body.keypairs.map((k: any) => k.keypair.name)).toEqual(['me@example.com'])
    expect((await kp({ name: 'generated' }, '2.91')).status).toBe(201)
  })

  it('validates known flavor extra specs from 2.86 (400, nothing stored), not before', async () => {
    const specs = (v: string, body: unknown, path = ''): Promise<Reply> => call(admin, path === '' ? 'POST' : 'PUT', `${nova}/flavors/1/os-extra_specs${path}`, body, mv(v))
    const stored = async (): Promise<Record<string, string>> => (await call(admin, 'GET', `${nova}/flavors/1/os-extra_specs`)).body.extra_specs
    const before = await stored()
    fault(await specs('2.86', { extra_specs: { 'hw:cpu_policy': 'fast' } }), 400, 'badRequest')
    fault(await specs('2.86', { extra_specs: { 'hw:no_such_thing': '1' } }), 400, 'badRequest')
    fault(await specs('2.86', { 'hw:numa_nodes': 'two' }, '/hw:numa_nodes'), 400, 'badRequest')
    expect(await stored()).toEqual(before)
    expect((await specs('2.86', { extra_specs: { 'hw:cpu_policy': 'shared', 'mycompany:x': 'y' } })).status).toBe(200)
    expect((await specs('2.85', { extra_specs: { 'hw:no_such_thing': '1' } })).status).toBe(200)
    for (const k of ['hw:cpu_policy', 'mycompany:x', 'hw:no_such_thing']) expect((await call(admin, 'DELETE', `${nova}/flavors/1/os-extra_specs/${k}`)).status).toBe(200)
    expect(await stored()).toEqual(before)
  })

  it('opens the availability_zone, vm_state and user_id filters to non-admins from 2.83', async () => {
    const names = async (q: string, v: string): Promise<string[]> => (await call(member.session, 'GET', `${nova}/servers?${q}`, undefined, mv(v))).body.servers.map((x: any) => x.name)
    expect(await names('vm_state=stopped', '2.82')).toEqual(['My VM'])
    expect(await names('vm_state=stopped', '2.83')).toEqual([])
    expect(await names('vm_state=active', '2.83')).toEqual(['My VM'])
    expect(await names('availability_zone=no-such-zone', '2.83')).toEqual([])
    expect(await names(`user_id=${member.userId}`, '2.83')).toEqual(['My VM'])
  })

  it('answers the volume attachment API as Nova without a volume service: none attached, volumes not found', async () => {
    const va = (method: string, path: string, body: unknown, v: string): Promise<Reply> => call(member.session, method, `${nova}/servers/${serverId}/os-volume_attachments${path}`, body, mv(v))
    const vol = '11111111-2222-4333-8444-555555555555'
    const list = await va('GET', '', undefined, '2.89')
    expect(list.status).toBe(200)
    expect(list.body).toEqual({ volumeAttachments: [] })
    fault(await va('POST', '', { volumeAttachment: { volumeId: vol, delete_on_termination: true } }, '2.79'), 404, 'itemNotFound')
    fault(await va('POST', '', { volumeAttachment: { volumeId: vol, delete_on_termination: true } }, '2.78'), 400, 'badRequest')
    fault(await va('POST', '', { volumeAttachment: { volumeId: 'not-a-uuid' } }, '2.79'), 400, 'badRequest')
    fault(await va('GET', `/${vol}`, undefined, '2.89'), 404, 'itemNotFound')
    fault(await va('PUT', `/${vol}`, { volumeAttachment: { volumeId: vol, delete_on_termination: false } }, '2.85'), 404, 'itemNotFound')
    fault(await va('PUT', `/${vol}`, { volumeAttachment: { volumeId: vol, delete_on_termination: false } }, '2.84'), 400, 'badRequest')
    fault(await va('DELETE', `/${vol}`, undefined, '2.89'), 404, 'itemNotFound')
    fault(await call(member.session, 'GET', `${nova}/servers/00000000-0000-4000-8000-000000000000/os-volume_attachments`), 404, 'itemNotFound')
  })

  it('boots onto the host an admin names from 2.74, refuses others and unknown hosts', async () => {
    const global = `${fed.api.urls.compute}/v2.1`
    const boot = (s: Session, server: Record<string, unknown>, v: string): Promise<Reply> =>
      call(s, 'POST', `${global}/servers`, { server: { name: 'pinned', imageRef, flavorRef: '1', networks: 'none', ...server } }, mv(v))
    for (const host of ['r2-c3', 'r1-dc2-c2']) {
      const r = await boot(admin, { host }, '2.74')
      expect(r.status).toBe(202)
      const shown = await waitForStatus(admin, global, r.body.server.id, 'ACTIVE')
      expect(shown['OS-EXT-SRV-ATTR:host']).toBe(host)
      expect((await call(admin, 'DELETE', `${global}/servers/${r.body.server.id}`)).status).toBe(204)
    }
    const node = await boot(admin, { hypervisor_hostname: 'r1-dc1-c4' }, '2.74')
    expect((await waitForStatus(admin, global, node.body.server.id, 'ACTIVE'))['OS-EXT-SRV-ATTR:hypervisor_hostname']).toBe('r1-dc1-c4')
    expect((await call(admin, 'DELETE', `${global}/servers/${node.body.server.id}`)).status).toBe(204)
    const before = await count()
    fault(await boot(member.session, { host: 'r2-c3' }, '2.74'), 403, 'forbidden')
    fault(await boot(admin, { host: 'no-such-host' }, '2.74'), 400, 'badRequest')
    fault(await boot(admin, { host: 'r2-c3' }, '2.73'), 400, 'badRequest')
    fault(await boot(admin, { host: 'r2-c3', availability_zone: 'region-two-az:r2-c3' }, '2.74'), 400, 'badRequest')
    fault(await boot(admin, { host: 'bad host!' }, '2.74'), 400, 'badRequest')
    expect(await count()).toBe(before)
  })
})
