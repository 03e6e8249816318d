import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, login, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

const FINGERPRINT = /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/

/** An ssh-ed25519 public key line built by hand (32 key bytes of `seed`). */
function ed25519(seed: number, comment = 'test@example'): { line: string; fingerprint: string } {
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b])
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(Buffer.alloc(32, seed))])
  const md5 = createHash('md5').update(blob).digest('hex')
  return { line: `ssh-ed25519 ${blob.toString('base64')} ${comment}`, fingerprint: md5.match(/../g)!.join(':') }
}

/** Key pairs per microversion, admin-for-other-user, isolation, quota and boot with key_name. */
describe('compute API: keypairs', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let adminUserId: string
  let alice: ProjectUser
  let nova: string

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    nova = `${fed.api.urls.compute}/v2.1`
    alice = await createProjectUser(fed.api.urls.identity, admin, 'kp-alice')
    const me = await call(admin, 'GET', `${fed.api.urls.identity}/v3/users?name=admin`)
    adminUserId = me.body.users[0].id as string
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('generates a key pair at 2.1: 200 with private_key and exactly the 2.1 keys', async () => {
    const res = await call(alice.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'gen-21' } })
    expect(res.status).toBe(200)
    const k = res.body.keypair
    expect(Object.keys(k).sort()).toEqual(['fingerprint', 'name', 'private_key', 'public_key', 'user_id'])
    expect(k).toMatchObject({ name: 'gen-21', user_id: alice.userId })
    expect(k.fingerprint).toMatch(FINGERPRINT)
    expect(k.public_key).toMatch(/^ssh-rsa \S+ Generated-by-Nova$/)
    expect(k.private_key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/)
  })

  it('imports a public key from 2.2: 201 with type and no private_key', async () => {
    const key = ed25519(1)
    const res = await call(alice.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'imported', public_key: key.line } }, mv('2.2'))
    expect(res.status).toBe(201)
    expect(res.body.keypair).toEqual({ name: 'imported', public_key: key.line, fingerprint: key.fingerprint, type: 'ssh', user_id: alice.userId })
  })

  it('generates and imports x509 key pairs (2.2)', async () => {
    const gen = await call(alice.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'cert', type: 'x509' } }, mv('2.2'))
    expect(gen.status).toBe(201)
    expect(gen.body.keypair).toMatchObject({ name: 'cert', type: 'x509', user_id: alice.userId })
    expect(gen.body.keypair.public_key).toMatch(/^-----BEGIN CERTIFICATE-----/)
    expect(gen.body.keypair.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/)
    expect(gen.body.keypair.fingerprint).toMatch(/^([0-9a-f]{2}:){19}[0-9a-f]{2}$/)
    const imp = await call(alice.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'cert-2', type: 'x509', public_key: gen.body.keypair.public_key } }, mv('2.2'))
    expect(imp.status).toBe(201)
    expect(imp.body.keypair.fingerprint).toBe(gen.body.keypair.fingerprint)
    const notCert = await call(alice.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'cert-3', type: 'x509', public_key: ed25519(2).line } }, mv('2.2'))
    expect(notCert.status).toBe(400)
  })

  it.each([
    ['an invalid public key', '2.1', { name: 'bad-key', public_key: 'ssh-rsa not-a-key' }, 'Keypair data is invalid: failed to generate fingerprint'],
    ['unsafe characters in the name', '2.1', { name: 'bad/name' }, 'keypair.name'],
    ['an empty name', '2.1', { name: '' }, 'keypair.name'],
    ['a name over 255 characters', '2.1', { name: 'n'.repeat(256) }, 'keypair.name'],
    ['a type before 2.2', '2.1', { name: 'typed', type: 'ssh' }, 'keypair'],
    ['an unknown type', '2.2', { name: 'typed', type: 'pgp' }, 'keypair.type'],
    ['user_id before 2.10', '2.9', { name: 'for-other', user_id: 'x' }, 'keypair'],
  ])('refuses %s with 400', async (_what, version, keypair, message) => {
    const res = await call(alice.session, 'POST', `${nova}/os-keypairs`, { keypair }, mv(version))
    expect(res.status).toBe(400)
    expect(res.body.badRequest.message).toContain(message)
    const list = await call(alice.session, 'GET', `${nova}/os-keypairs`)
    expect(list.body.keypairs.map((k: any) => k.keypair.name)).not.toContain(keypair.name)
  })

  it('answers 409 for a name the user already has; another user may reuse it', async () => {
    const dup = await call(alice.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'imported', public_key: ed25519(3).line } })
    expect(dup.status).toBe(409)
    expect(dup.body.conflictingRequest.message).toBe("Key pair 'imported' already exists.")
    expect((await call(admin, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'imported', public_key: ed25519(4).line } })).status).toBe(200)
  })

  it('lists items wrapped in {"keypair": …}, with type from 2.2', async () => {
    const l21 = await call(alice.session, 'GET', `${nova}/os-keypairs`)
    expect(l21.status).toBe(200)
    expect(Object.keys(l21.body)).toEqual(['keypairs'])
    const imported = l21.body.keypairs.find((k: any) => k.keypair.name === 'imported')
    expect(imported).toEqual({ keypair: { name: 'imported', public_key: ed25519(1).line, fingerprint: ed25519(1).fingerprint } })
    const l22 = await call(alice.session, 'GET', `${nova}/os-keypairs`, undefined, mv('2.2'))
    expect(l22.body.keypairs.find((k: any) => k.keypair.name === 'cert').keypair.type).toBe('x509')
    expect(l21.body.keypairs.map((k: any) => k.keypair.name)).toEqual(['cert', 'cert-2', 'gen-21', 'imported'])
  })

  it('pages from 2.35 with limit and marker (a name); unknown marker 400; ignored before 2.35', async () => {
    const p1 = await call(alice.session, 'GET', `${nova}/os-keypairs?limit=2`, undefined, mv('2.35'))
    expect(p1.body.keypairs.map((k: any) => k.keypair.name)).toEqual(['cert', 'cert-2'])
    const next = new URL(p1.body.keypairs_links[0].href)
    expect(p1.body.keypairs_links[0].rel).toBe('next')
    expect(next.searchParams.get('marker')).toBe('cert-2')
    const p2 = await call(alice.session, 'GET', `${nova}/os-keypairs?limit=2&marker=cert-2`, undefined, mv('2.35'))
    expect(p2.body.keypairs.map((k: any) => k.keypair.name)).toEqual(['gen-21', 'imported'])
    const p3 = await call(alice.session, 'GET', `${nova}/os-keypairs?limit=2&marker=imported`, undefined, mv('2.35'))
    expect(p3.body).toEqual({ keypairs: [] })
    expect((await call(alice.session, 'GET', `${nova}/os-keypairs?marker=nope`, undefined, mv('2.35'))).status).toBe(400)
    expect((await call(alice.session, 'GET', `${nova}/os-keypairs?limit=-1`, undefined, mv('2.35'))).status).toBe(400)
    expect((await call(alice.session, 'GET', `${nova}/os-keypairs?limit=2`, undefined, mv('2.34'))).body.keypairs).toHaveLength(4)
  })

  it('shows one key pair with Nova\'s full set of keys (type from 2.2); 404 otherwise', async () => {
    const s21 = await call(alice.session, 'GET', `${nova}/os-keypairs/imported`)
    expect(s21.status).toBe(200)
    expect(Object.keys(s21.body.keypair).sort()).toEqual(['created_at', 'deleted', 'deleted_at', 'fingerprint', 'id', 'name', 'public_key', 'updated_at', 'user_id'])
    expect(s21.body.keypair).toMatchObject({ name: 'imported', user_id: alice.userId, deleted: false, deleted_at: null, updated_at: null })
    expect(s21.body.keypair.id).toEqual(expect.any(Number))
    expect(s21.body.keypair.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    const s22 = await call(alice.session, 'GET', `${nova}/os-keypairs/imported`, undefined, mv('2.2'))
    expect(s22.body.keypair.type).toBe('ssh')
    const missing = await call(alice.session, 'GET', `${nova}/os-keypairs/nope`)
    expect(missing.status).toBe(404)
    expect(missing.body.itemNotFound.message).toBe(`Keypair nope not found for user ${alice.userId}`)
  })

  it('keeps users apart: another user\'s key pair is a 404, user_id is for admins only (2.10)', async () => {
    expect((await call(alice.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'admins-only' } }, mv('2.10'))).status).toBe(201)
    await call(admin, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'admin-key', public_key: ed25519(5).line } })
    expect((await call(alice.session, 'GET', `${nova}/os-keypairs/admin-key`)).status).toBe(404)
    expect((await call(alice.session, 'DELETE', `${nova}/os-keypairs/admin-key`)).status).toBe(404)
    const list = await call(alice.session, 'GET', `${nova}/os-keypairs`)
    expect(list.body.keypairs.map((k: any) => k.keypair.name)).not.toContain('admin-key')
    const peek = await call(alice.session, 'GET', `${nova}/os-keypairs?user_id=${adminUserId}`, undefined, mv('2.10'))
    expect(peek.status).toBe(403)
    expect(peek.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:os-keypairs:index to be performed.")
    expect((await call(alice.session, 'GET', `${nova}/os-keypairs/admin-key?user_id=${adminUserId}`, undefined, mv('2.10'))).status).toBe(403)
    const forOther = await call(alice.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'sneaky', user_id: adminUserId } }, mv('2.10'))
    expect(forOther.status).toBe(403)
    // Before 2.10 the parameter does not exist: the caller's own list.
    const old = await call(alice.session, 'GET', `${nova}/os-keypairs?user_id=${adminUserId}`, undefined, mv('2.9'))
    expect(old.status).toBe(200)
    expect(old.body.keypairs.map((k: any) => k.keypair.name)).not.toContain('admin-key')
  })

  it('lets an admin manage another user\'s key pairs with user_id (2.10)', async () => {
    const created = await call(admin, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'given-by-admin', public_key: ed25519(6).line, user_id: alice.userId } }, mv('2.10'))
    expect(created.status).toBe(201)
    expect(created.body.keypair.user_id).toBe(alice.userId)
    const list = await call(admin, 'GET', `${nova}/os-keypairs?user_id=${alice.userId}`, undefined, mv('2.10'))
    expect(list.body.keypairs.map((k: any) => k.keypair.name)).toContain('given-by-admin')
    const show = await call(admin, 'GET', `${nova}/os-keypairs/given-by-admin?user_id=${alice.userId}`, undefined, mv('2.10'))
    expect(show.body.keypair.user_id).toBe(alice.userId)
    expect((await call(alice.session, 'GET', `${nova}/os-keypairs/given-by-admin`)).status).toBe(200)
    const del = await call(admin, 'DELETE', `${nova}/os-keypairs/given-by-admin?user_id=${alice.userId}`, undefined, mv('2.10'))
    expect(del.status).toBe(204)
    expect((await call(alice.session, 'GET', `${nova}/os-keypairs/given-by-admin`)).status).toBe(404)
  })

  it('boots with key_name: the server shows it; an unknown or foreign key name is a 400', async () => {
    const images = await call(alice.session, 'GET', `${fed.api.urls.image}/v2/images?name=cirros`)
    const imageRef = images.body.images[0].id as string
    const boot = await call(alice.session, 'POST', `${nova}/servers`, { server: { name: 'with-key', imageRef, flavorRef: '1', key_name: 'imported' } })
    expect(boot.status).toBe(202)
    const server = await waitForStatus(alice.session, nova, boot.body.server.id, 'ACTIVE')
    expect(server.key_name).toBe('imported')
    for (const key_name of ['nope', 'admin-key']) {
      const bad = await call(alice.session, 'POST', `${nova}/servers`, { server: { name: 'bad-key', imageRef, flavorRef: '1', key_name } })
      expect(bad.status).toBe(400)
      expect(bad.body.badRequest.message).toBe('Invalid key_name provided.')
    }
    const servers = await call(alice.session, 'GET', `${nova}/servers`)
    expect(servers.body.servers.map((s: any) => s.name)).toEqual(['with-key'])
    expect((await call(alice.session, 'DELETE', `${nova}/servers/${server.id}`)).status).toBe(204)
  })

  it('enforces the key_pairs quota per user (403)', async () => {
    const bob = await createProjectUser(fed.api.urls.identity, admin, 'kp-bob')
    expect((await call(admin, 'PUT', `${nova}/os-quota-sets/${bob.projectId}`, { quota_set: { key_pairs: 2 } })).status).toBe(200)
    for (const n of [1, 2]) expect((await call(bob.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: `k${n}`, public_key: ed25519(10 + n).line } })).status).toBe(200)
    const over = await call(bob.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'k3', public_key: ed25519(13).line } })
    expect(over.status).toBe(403)
    expect(over.body).toEqual({ forbidden: { code: 403, message: 'Quota exceeded, too many key pairs.' } })
    expect((await call(bob.session, 'GET', `${nova}/os-keypairs`)).body.keypairs).toHaveLength(2)
    expect((await call(bob.session, 'DELETE', `${nova}/os-keypairs/k1`)).status).toBe(202)
    expect((await call(bob.session, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'k3', public_key: ed25519(13).line } })).status).toBe(200)
  })

  it('deletes: 202 empty at 2.1, 204 from 2.2, then 404', async () => {
    const d21 = await call(alice.session, 'DELETE', `${nova}/os-keypairs/gen-21`)
    expect(d21.status).toBe(202)
    expect(d21.body).toBeUndefined()
    const d22 = await call(alice.session, 'DELETE', `${nova}/os-keypairs/imported`, undefined, mv('2.2'))
    expect(d22.status).toBe(204)
    const again = await call(alice.session, 'DELETE', `${nova}/os-keypairs/imported`, undefined, mv('2.2'))
    expect(again.status).toBe(404)
    expect(again.body.itemNotFound.message).toBe(`Keypair imported not found for user ${alice.userId}`)
  })
})
