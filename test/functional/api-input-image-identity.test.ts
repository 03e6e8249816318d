import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, login } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser } from '../helpers/project-user.js'

const PATCH = { 'content-type': 'application/openstack-images-v2.1-json-patch' }

const fault = (r: { status: number; body: any }, status: number): void => {
  expect(r.status).toBe(status)
  expect(Object.keys(r.body)).toEqual(['error'])
  expect(r.body.error).toMatchObject({ code: status, title: expect.any(String), message: expect.any(String) })
}

const props = (n: number, from = 0): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i + from}`, 'v']))
const tags = (n: number): string[] => Array.from({ length: n }, (_, i) => `t${i}`)

/** Glance's quotas and limits, and names without control characters in Glance and Keystone. */
describe('image and identity APIs: hostile input', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let member: ProjectUser
  let glance: string
  let keystone: string

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    member = await createProjectUser(fed.api.urls.identity, admin, 'img-hostile')
    glance = `${fed.api.urls.image}/v2/images`
    keystone = `${fed.api.urls.identity}/v3`
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  const count = async (): Promise<number> => (await call(member.session, 'GET', glance)).body.images.length

  it('creates an image with 128 properties and 128 tags, refuses 129 (and 10,000) with 413, creating nothing', async () => {
    const ok = await call(member.session, 'POST', glance, { name: 'at-quota', ...props(128), tags: tags(128) })
    expect(ok.status).toBe(201)
    expect(ok.body.tags).toHaveLength(128)
    const before = await count()
    for (const body of [{ name: 'p129', ...props(129) }, { name: 'p10k', ...props(10_000) }, { name: 't129', tags: tags(129) }, { name: 't10k', tags: tags(10_000) }]) {
      const r = await call(member.session, 'POST', glance, body)
      fault(r, 413)
      expect(r.body.error.message).toMatch(/^The limit has been exceeded on the number of allowed image (properties|tags)\. Attempted: \d+, Maximum: 128$/)
    }
    expect(await count()).toBe(before)
  })

  it('refuses PATCH and tag additions past the quotas with 413, leaving the image as it was', async () => {
    const img = (await call(member.session, 'POST', glance, { name: 'grow', ...props(127), tags: tags(127) })).body
    const adds = [{ op: 'add', path: '/extra1', value: 'v' }, { op: 'add', path: '/extra2', value: 'v' }]
    fault(await call(member.session, 'PATCH', `${glance}/${img.id}`, JSON.stringify(adds), PATCH), 413)
    fault(await call(member.session, 'PATCH', `${glance}/${img.id}`, JSON.stringify([{ op: 'replace', path: '/tags', value: tags(129) }]), PATCH), 413)
    expect((await call(member.session, 'PUT', `${glance}/${img.id}/tags/t127`)).status).toBe(204)
    fault(await call(member.session, 'PUT', `${glance}/${img.id}/tags/t128`), 413)
    const shown = (await call(member.session, 'GET', `${glance}/${img.id}`)).body
    expect(Object.keys(shown).filter((k) => /^p\d+$/.test(k))).toHaveLength(127)
    expect(shown.tags).toHaveLength(128)
    expect(shown.extra1).toBeUndefined()
  })

  it('refuses properties or tags too large to store together (over 65,535 bytes) with 413, on create and PATCH', async () => {
    const before = await count()
    fault(await call(member.session, 'POST', glance, { name: 'big', a: 'x'.repeat(40_000), b: 'y'.repeat(40_000) }), 413)
    const wide = Array.from({ length: 128 }, (_, i) => `${i}${'€'.repeat(250)}`)
    fault(await call(member.session, 'POST', glance, { name: 'wide', tags: wide }), 413)
    expect(await count()).toBe(before)
    const img = (await call(member.session, 'POST', glance, { name: 'grows', a: 'x'.repeat(40_000) })).body
    fault(await call(member.session, 'PATCH', `${glance}/${img.id}`, JSON.stringify([{ op: 'add', path: '/b', value: 'y'.repeat(40_000) }]), PATCH), 413)
    expect((await call(member.session, 'GET', `${glance}/${img.id}`)).body.b).toBeUndefined()
  })

  it.each([
    ['a 256-character property name', { ['k'.repeat(256)]: 'v' }],
    ['a property name with NUL', { 'a\u0000b': 'v' }],
    ['a non-string property value', { k: 1 }],
    ['a 65,536-character property value', { k: 'v'.repeat(65_536) }],
    ['a name with NUL', { name: 'img\u0000' }],
    ['a name with ESC', { name: 'img\u001b[31m' }],
    ['a 256-character name', { name: 'n'.repeat(256) }],
    ['a tag with NUL', { tags: ['a\u0000'] }],
    ['a 256-character tag', { tags: ['t'.repeat(256)] }],
  ])('refuses %s with 400, on create and PATCH', async (_what, body) => {
    const before = await count()
    fault(await call(member.session, 'POST', glance, { ...body }), 400)
    expect(await count()).toBe(before)
    const img = (await call(member.session, 'POST', glance, { name: 'target' })).body
    const ops = Object.entries(body).map(([k, v]) => ({ op: 'add', path: `/${k}`, value: v }))
    fault(await call(member.session, 'PATCH', `${glance}/${img.id}`, JSON.stringify(ops), PATCH), 400)
    expect((await call(member.session, 'GET', `${glance}/${img.id}`)).body.name).toBe('target')
  })

  it('keeps prototype-ish property names as ordinary properties', async () => {
    const r = await call(member.session, 'POST', glance, JSON.parse('{"name": "proto", "__proto__": "x", "constructor": "y", "toString": "z"}'))
    expect(r.status).toBe(201)
    const shown = (await call(member.session, 'GET', `${glance}/${r.body.id}`)).body
    expect([Object.hasOwn(shown, '__proto__'), shown.constructor, shown.toString]).toEqual([true, 'y', 'z'])
    const listed = await call(member.session, 'GET', `${glance}?constructor=y`)
    expect(listed.body.images.map((i: any) => i.id)).toEqual([r.body.id])
  })

  it.each([
    ['project', 'POST', '/projects', (n: string) => ({ project: { name: n, domain_id: 'default' } })],
    ['user', 'POST', '/users', (n: string) => ({ user: { name: n, domain_id: 'default', password: 'pw' } })],
    ['role', 'POST', '/roles', (n: string) => ({ role: { name: n } })],
  ] as const)('Keystone: refuses NUL and control characters in a %s name with 400', async (_kind, method, path, body) => {
    for (const bad of ['a\u0000b', 'bell\u0007', 'esc\u001b[0m']) {
      fault(await call(admin, method, `${keystone}${path}`, body(bad)), 400)
    }
    const listed = await call(admin, 'GET', `${keystone}${path}`)
    expect(JSON.stringify(listed.body)).not.toMatch(/\\u0000|\\u0007|\\u001b/)
    expect(listed.status).toBe(200)
  })

  it('Keystone: refuses a control character in a project rename with 400, keeping the name', async () => {
    const p = (await call(admin, 'POST', `${keystone}/projects`, { project: { name: 'renamed', domain_id: 'default' } })).body.project
    fault(await call(admin, 'PATCH', `${keystone}/projects/${p.id}`, { project: { name: 'x\u0000' } }), 400)
    expect((await call(admin, 'GET', `${keystone}/projects/${p.id}`)).body.project.name).toBe('renamed')
  })
})
