import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

const FLAVOR_KEYS_21 = [
  'OS-FLV-DISABLED:disabled',
  'OS-FLV-EXT-DATA:ephemeral',
  'disk',
  'id',
  'links',
  'name',
  'os-flavor-access:is_public',
  'ram',
  'rxtx_factor',
  'swap',
  'vcpus',
]

/** Flavor administration: manage, extra specs, access, and private-flavor visibility. */
describe('compute API: flavors admin', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let alice: ProjectUser
  let bob: ProjectUser
  let nova: string
  let imageRef: string

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    nova = `${fed.api.urls.compute}/v2.1`
    alice = await createProjectUser(fed.api.urls.identity, admin, 'flv-alice')
    bob = await createProjectUser(fed.api.urls.identity, admin, 'flv-bob')
    const images = await call(admin, 'GET', `${fed.api.urls.image}/v2/images?name=cirros`)
    imageRef = images.body.images[0].id as string
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('creates a flavor with a generated id (200) and shows exactly the 2.1 keys', async () => {
    const res = await call(admin, 'POST', `${nova}/flavors`, { flavor: { name: 'gen.small', ram: 256, vcpus: 1, disk: 1 } })
    expect(res.status).toBe(200)
    const f = res.body.flavor
    expect(Object.keys(f).sort()).toEqual(FLAVOR_KEYS_21)
    expect(f.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(f).toMatchObject({ name: 'gen.small', ram: 256, vcpus: 1, disk: 1, swap: '', 'OS-FLV-EXT-DATA:ephemeral': 0, rxtx_factor: 1, 'os-flavor-access:is_public': true })
    const show = await call(alice.session, 'GET', `${nova}/flavors/${f.id}`)
    expect(show.status).toBe(200)
    expect(show.body.flavor.name).toBe('gen.small')
  })

  it('takes the id, string integers, swap and ephemeral as given; description from 2.55, extra_specs from 2.61', async () => {
    const res = await call(admin, 'POST', `${nova}/flavors`, {
      flavor: { name: 'given.id', id: '42', ram: '1024', vcpus: '2', disk: 5, swap: 512, 'OS-FLV-EXT-DATA:ephemeral': 3, rxtx_factor: 2.5, description: 'for tests' },
    }, mv('2.61'))
    expect(res.status).toBe(200)
    expect(res.body.flavor).toMatchObject({ id: '42', ram: 1024, vcpus: 2, disk: 5, swap: 512, 'OS-FLV-EXT-DATA:ephemeral': 3, rxtx_factor: 2.5, description: 'for tests', extra_specs: {} })
    const old = await call(admin, 'POST', `${nova}/flavors`, { flavor: { name: 'too.early', ram: 64, vcpus: 1, disk: 0, description: 'x' } }, mv('2.54'))
    expect(old.status).toBe(400)
    expect(old.body.badRequest.message).toContain('description')
  })

  it.each([
    ['missing vcpus', { name: 'bad1', ram: 64, disk: 0 }],
    ['zero ram', { name: 'bad2', ram: 0, vcpus: 1, disk: 0 }],
    ['negative disk', { name: 'bad3', ram: 64, vcpus: 1, disk: -1 }],
    ['unknown key', { name: 'bad4', ram: 64, vcpus: 1, disk: 0, colour: 'blue' }],
    ['leading space in name', { name: ' bad5', ram: 64, vcpus: 1, disk: 0 }],
    ['bad id characters', { name: 'bad6', id: 'a/b', ram: 64, vcpus: 1, disk: 0 }],
    ['non-boolean is_public', { name: 'bad7', ram: 64, vcpus: 1, disk: 0, 'os-flavor-access:is_public': 'maybe' }],
  ])('refuses %s with 400 and creates nothing', async (_what, flavor) => {
    const res = await call(admin, 'POST', `${nova}/flavors`, { flavor })
    expect(res.status).toBe(400)
    expect(res.body.badRequest.code).toBe(400)
    const list = await call(admin, 'GET', `${nova}/flavors?is_public=none`)
    expect(list.body.flavors.map((f: { name: string }) => f.name)).not.toContain(flavor.name)
  })

  it('answers 409 for a duplicate name or id', async () => {
    const name = await call(admin, 'POST', `${nova}/flavors`, { flavor: { name: 'm1.tiny', ram: 64, vcpus: 1, disk: 0 } })
    expect(name.status).toBe(409)
    expect(name.body.conflictingRequest.message).toBe('Flavor with name m1.tiny already exists.')
    const id = await call(admin, 'POST', `${nova}/flavors`, { flavor: { name: 'other', id: '1', ram: 64, vcpus: 1, disk: 0 } })
    expect(id.status).toBe(409)
    expect(id.body.conflictingRequest.message).toBe('Flavor with ID 1 already exists.')
  })

  it('keeps flavor management admin-only (403 in Nova\'s body)', async () => {
    const create = await call(alice.session, 'POST', `${nova}/flavors`, { flavor: { name: 'mine', ram: 64, vcpus: 1, disk: 0 } })
    expect(create.status).toBe(403)
    expect(create.body).toEqual({ forbidden: { code: 403, message: "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed." } })
    expect((await call(alice.session, 'DELETE', `${nova}/flavors/1`)).status).toBe(403)
    expect((await call(alice.session, 'PUT', `${nova}/flavors/1`, { flavor: { description: 'x' } }, mv('2.55'))).status).toBe(403)
    expect((await call(alice.session, 'POST', `${nova}/flavors/1/os-extra_specs`, { extra_specs: { a: 'b' } })).status).toBe(403)
    expect((await call(alice.session, 'PUT', `${nova}/flavors/1/os-extra_specs/a`, { a: 'b' })).status).toBe(403)
    expect((await call(alice.session, 'DELETE', `${nova}/flavors/1/os-extra_specs/a`)).status).toBe(403)
    expect((await call(admin, 'GET', `${nova}/flavors/1`)).body.flavor.name).toBe('m1.tiny')
  })

  it('updates the description at 2.55 only', async () => {
    const res = await call(admin, 'PUT', `${nova}/flavors/42`, { flavor: { description: 'updated' } }, mv('2.55'))
    expect(res.status).toBe(200)
    expect(res.body.flavor).toMatchObject({ id: '42', description: 'updated' })
    expect(res.body.flavor.extra_specs).toBeUndefined()
    expect((await call(admin, 'PUT', `${nova}/flavors/42`, { flavor: { description: 'x' } })).status).toBe(404)
    expect((await call(admin, 'PUT', `${nova}/flavors/42`, { flavor: { name: 'renamed' } }, mv('2.55'))).status).toBe(400)
    expect((await call(admin, 'PUT', `${nova}/flavors/nope`, { flavor: { description: 'x' } }, mv('2.55'))).status).toBe(404)
    const list = await call(alice.session, 'GET', `${nova}/flavors`, undefined, mv('2.55'))
    expect(list.body.flavors.find((f: { id: string }) => f.id === '42')).toMatchObject({ description: 'updated' })
  })

  it('manages extra specs: create merges, show one, update one, delete one', async () => {
    const base = `${nova}/flavors/42/os-extra_specs`
    const created = await call(admin, 'POST', base, { extra_specs: { 'hw:cpu_policy': 'shared', 'quota:disk_read_bytes_sec': '1000' } })
    expect(created.status).toBe(200)
    expect(created.body).toEqual({ extra_specs: { 'hw:cpu_policy': 'shared', 'quota:disk_read_bytes_sec': '1000' } })
    expect((await call(admin, 'POST', base, { extra_specs: { 'trait:X': 'required' } })).status).toBe(200)
    const all = await call(alice.session, 'GET', base)
    expect(all.body).toEqual({ extra_specs: { 'hw:cpu_policy': 'shared', 'quota:disk_read_bytes_sec': '1000', 'trait:X': 'required' } })
    const one = await call(alice.session, 'GET', `${base}/hw:cpu_policy`)
    expect(one.status).toBe(200)
    expect(one.body).toEqual({ 'hw:cpu_policy': 'shared' })
    const upd = await call(admin, 'PUT', `${base}/hw:cpu_policy`, { 'hw:cpu_policy': 'dedicated' })
    expect(upd.status).toBe(200)
    expect(upd.body).toEqual({ 'hw:cpu_policy': 'dedicated' })
    const mismatch = await call(admin, 'PUT', `${base}/hw:cpu_policy`, { other: 'x' })
    expect(mismatch.status).toBe(400)
    expect(mismatch.body.badRequest.message).toBe('Request body and URI mismatch')
    expect((await call(admin, 'PUT', `${base}/hw:cpu_policy`, { 'hw:cpu_policy': 'a', b: 'c' })).status).toBe(400)
    expect((await call(admin, 'POST', base, { extra_specs: { 'bad/key': 'x' } })).status).toBe(400)
    expect((await call(admin, 'POST', base, { extra_specs: { k: 'v'.repeat(256) } })).status).toBe(400)
    const del = await call(admin, 'DELETE', `${base}/trait:X`)
    expect(del.status).toBe(200)
    expect(del.body).toBeUndefined()
    const gone = await call(admin, 'GET', `${base}/trait:X`)
    expect(gone.status).toBe(404)
    expect(gone.body.itemNotFound.message).toBe('Flavor 42 has no extra specs with key trait:X.')
    expect((await call(admin, 'DELETE', `${base}/trait:X`)).status).toBe(404)
    const show = await call(admin, 'GET', `${nova}/flavors/42`, undefined, mv('2.61'))
    expect(show.body.flavor.extra_specs).toEqual({ 'hw:cpu_policy': 'dedicated', 'quota:disk_read_bytes_sec': '1000' })
    expect((await call(admin, 'GET', `${nova}/flavors/nope/os-extra_specs`)).status).toBe(404)
  })

  describe('private flavors and access', () => {
    let priv: string

    beforeAll(async () => {
      const res = await call(admin, 'POST', `${nova}/flavors`, { flavor: { name: 'private.tiny', ram: 128, vcpus: 1, disk: 1, 'os-flavor-access:is_public': false } })
      expect(res.status).toBe(200)
      expect(res.body.flavor['os-flavor-access:is_public']).toBe(false)
      priv = res.body.flavor.id as string
    })

    it('hides a private flavor from projects without access: list, show, extra specs and boot', async () => {
      const list = await call(alice.session, 'GET', `${nova}/flavors/detail`)
      expect(list.body.flavors.map((f: { id: string }) => f.id)).not.toContain(priv)
      expect((await call(alice.session, 'GET', `${nova}/flavors/${priv}`)).status).toBe(404)
      expect((await call(alice.session, 'GET', `${nova}/flavors/${priv}/os-extra_specs`)).status).toBe(404)
      const boot = await call(alice.session, 'POST', `${nova}/servers`, { server: { name: 'nope', imageRef, flavorRef: priv } })
      expect(boot.status).toBe(400)
      expect(boot.body.badRequest.message).toBe(`Flavor ${priv} could not be found.`)
    })

    it('lists flavors for admins by is_public: default public only, false private only, none all; bad value 400', async () => {
      const ids = async (q: string) => (await call(admin, 'GET', `${nova}/flavors${q}`)).body.flavors.map((f: { id: string }) => f.id) as string[]
      expect(await ids('')).not.toContain(priv)
      expect(await ids('?is_public=false')).toEqual([priv])
      expect(await ids('?is_public=none')).toContain(priv)
      expect(await ids('?is_public=none')).toContain('1')
      expect((await call(admin, 'GET', `${nova}/flavors?is_public=perhaps`)).status).toBe(400)
      expect((await call(admin, 'GET', `${nova}/flavors/${priv}`)).status).toBe(200)
      // Non-admins cannot widen their view with the filter.
      expect((await call(alice.session, 'GET', `${nova}/flavors?is_public=none`)).body.flavors.map((f: { id: string }) => f.id)).not.toContain(priv)
    })

    it('grants access with addTenantAccess: the project sees it and boots it to ACTIVE; others still do not', async () => {
      const empty = await call(admin, 'GET', `${nova}/flavors/${priv}/os-flavor-access`)
      expect(empty.status).toBe(200)
      expect(empty.body).toEqual({ flavor_access: [] })
      const add = await call(admin, 'POST', `${nova}/flavors/${priv}/action`, { addTenantAccess: { tenant: alice.projectId } })
      expect(add.status).toBe(200)
      expect(add.body).toEqual({ flavor_access: [{ flavor_id: priv, tenant_id: alice.projectId }] })
      const dup = await call(admin, 'POST', `${nova}/flavors/${priv}/action`, { addTenantAccess: { tenant: alice.projectId } })
      expect(dup.status).toBe(409)
      expect(dup.body.conflictingRequest.message).toBe(`Flavor access already exists for flavor ${priv} and project ${alice.projectId} combination.`)

      expect((await call(alice.session, 'GET', `${nova}/flavors`)).body.flavors.map((f: { id: string }) => f.id)).toContain(priv)
      expect((await call(alice.session, 'GET', `${nova}/flavors/${priv}`)).status).toBe(200)
      expect((await call(bob.session, 'GET', `${nova}/flavors/${priv}`)).status).toBe(404)
      expect((await call(bob.session, 'GET', `${nova}/flavors`)).body.flavors.map((f: { id: string }) => f.id)).not.toContain(priv)

      // The new flavor reached the cells: they report how many of it fit.
      await waitFor('fits for the private flavor', async () => (fed.api.tree.reports().some((c) => (c.flavorFits[priv]?.count ?? 0) > 0) ? true : undefined))
      const boot = await call(alice.session, 'POST', `${nova}/servers`, { server: { name: 'on-private', imageRef, flavorRef: priv } })
      expect(boot.status).toBe(202)
      const server = await waitForStatus(alice.session, nova, boot.body.server.id, 'ACTIVE')
      expect(server.flavor.id).toBe(priv)
      expect((await call(alice.session, 'DELETE', `${nova}/servers/${server.id}`)).status).toBe(204)
    })

    it('refuses access changes that make no sense, and non-admins', async () => {
      const pub = await call(admin, 'GET', `${nova}/flavors/1/os-flavor-access`)
      expect(pub.status).toBe(404)
      expect(pub.body.itemNotFound.message).toBe('Access list not available for public flavors.')
      const toPublic = await call(admin, 'POST', `${nova}/flavors/1/action`, { addTenantAccess: { tenant: alice.projectId } }, mv('2.7'))
      expect(toPublic.status).toBe(409)
      expect(toPublic.body.conflictingRequest.message).toBe('Can not add access to a public flavor.')
      const unknownProject = await call(admin, 'POST', `${nova}/flavors/${priv}/action`, { addTenantAccess: { tenant: 'no-such-project' } })
      expect(unknownProject.status).toBe(400)
      expect(unknownProject.body.badRequest.message).toBe('Project ID no-such-project is not a valid project.')
      expect((await call(admin, 'POST', `${nova}/flavors/${priv}/action`, { addTenantAccess: {} })).status).toBe(400)
      expect((await call(admin, 'POST', `${nova}/flavors/${priv}/action`, { shareWithEveryone: {} })).status).toBe(400)
      expect((await call(admin, 'POST', `${nova}/flavors/nope/action`, { addTenantAccess: { tenant: alice.projectId } })).status).toBe(404)
      const denied = await call(alice.session, 'POST', `${nova}/flavors/${priv}/action`, { addTenantAccess: { tenant: bob.projectId } })
      expect(denied.status).toBe(403)
      expect(denied.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:os-flavor-access:add_tenant_access to be performed.")
      expect((await call(alice.session, 'GET', `${nova}/flavors/${priv}/os-flavor-access`)).status).toBe(403)
      expect((await call(admin, 'GET', `${nova}/flavors/${priv}/os-flavor-access`)).body.flavor_access).toHaveLength(1)
    })

    it('revokes with removeTenantAccess (404 the second time)', async () => {
      const rm = await call(admin, 'POST', `${nova}/flavors/${priv}/action`, { removeTenantAccess: { tenant: alice.projectId } })
      expect(rm.status).toBe(200)
      expect(rm.body).toEqual({ flavor_access: [] })
      const again = await call(admin, 'POST', `${nova}/flavors/${priv}/action`, { removeTenantAccess: { tenant: alice.projectId } })
      expect(again.status).toBe(404)
      expect(again.body.itemNotFound.message).toBe(`Flavor access not found for ${priv} / ${alice.projectId} combination.`)
      expect((await call(alice.session, 'GET', `${nova}/flavors/${priv}`)).status).toBe(404)
    })
  })

  it('deletes a flavor (202, empty) and its extra specs; a second delete is a 404', async () => {
    const del = await call(admin, 'DELETE', `${nova}/flavors/42`)
    expect(del.status).toBe(202)
    expect(del.body).toBeUndefined()
    expect((await call(admin, 'GET', `${nova}/flavors/42`)).status).toBe(404)
    expect((await call(admin, 'GET', `${nova}/flavors/42/os-extra_specs`)).status).toBe(404)
    const again = await call(admin, 'DELETE', `${nova}/flavors/42`)
    expect(again.status).toBe(404)
    expect(again.body.itemNotFound.message).toBe('Flavor 42 could not be found.')
    // The id is free again, and the re-created flavor has no stale extra specs.
    expect((await call(admin, 'POST', `${nova}/flavors`, { flavor: { name: 'given.id.2', id: '42', ram: 64, vcpus: 1, disk: 0 } })).status).toBe(200)
    expect((await call(admin, 'GET', `${nova}/flavors/42/os-extra_specs`)).body).toEqual({ extra_specs: {} })
  })
})
