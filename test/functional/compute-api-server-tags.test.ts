import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Reply, Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

/** Server tags (2.26): the tags API, tags at boot (2.52), the views and the list filters. */
describe('compute API: server tags', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let member: ProjectUser
  let other: ProjectUser
  let nova: string
  let imageRef: string
  let a: string
  let b: string
  const missing = '00000000-0000-4000-8000-000000000000'
  const V = mv('2.26')

  const fault = (r: Reply, status: number, name: string): void => {
    expect(r.status).toBe(status)
    expect(Object.keys(r.body)).toEqual([name])
    expect(r.body[name].code).toBe(status)
  }
  const tags = async (id: string): Promise<string[]> => (await call(member.session, 'GET', `${nova}/servers/${id}/tags`, undefined, V)).body.tags
  const boot = async (name: string, extra: Record<string, unknown>, version: string): Promise<Reply> =>
    call(member.session, 'POST', `${nova}/servers`, { server: { name, imageRef, flavorRef: '1', networks: 'none', ...extra } }, mv(version))
  const listed = async (query: string): Promise<string[]> => {
    const r = await call(member.session, 'GET', `${nova}/servers?${query}`, undefined, V)
    expect(r.status).toBe(200)
    return r.body.servers.map((s: { name: string }) => s.name).sort()
  }

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    member = await createProjectUser(fed.api.urls.identity, admin, 'tag-member')
    other = await createProjectUser(fed.api.urls.identity, admin, 'tag-other')
    nova = endpoint(member.session, 'compute', 'region-one')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    const ra = await boot('tag-a', { tags: ['red', 'blue'] }, '2.52')
    expect(ra.status).toBe(202)
    a = ra.body.server.id
    const rb = await boot('tag-b', {}, '2.52')
    b = rb.body.server.id
    await waitForStatus(member.session, nova, a, 'ACTIVE')
    await waitForStatus(member.session, nova, b, 'ACTIVE')
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('keeps tags given at boot (2.52) and shows them in the views from 2.26 only', async () => {
    expect(await tags(a)).toEqual(['red', 'blue'])
    const shown = await call(member.session, 'GET', `${nova}/servers/${a}`, undefined, V)
    expect(shown.body.server.tags).toEqual(['red', 'blue'])
    const old = await call(member.session, 'GET', `${nova}/servers/${a}`, undefined, mv('2.25'))
    expect(old.body.server.tags).toBeUndefined()
    const detail = await call(member.session, 'GET', `${nova}/servers/detail`, undefined, V)
    expect(detail.body.servers.find((s: { id: string }) => s.id === b).tags).toEqual([])
  })

  it('refuses tags at boot below 2.52, over 50, too long or with , or /: 400, nothing booted', async () => {
    const before = (await listed('')).length
    fault(await boot('x', { tags: ['a'] }, '2.51'), 400, 'badRequest')
    fault(await boot('x', { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, '2.52'), 400, 'badRequest')
    fault(await boot('x', { tags: ['t'.repeat(61)] }, '2.52'), 400, 'badRequest')
    fault(await boot('x', { tags: ['a,b'] }, '2.52'), 400, 'badRequest')
    fault(await boot('x', { tags: ['a/b'] }, '2.52'), 400, 'badRequest')
    fault(await boot('x', { tags: [''] }, '2.52'), 400, 'badRequest')
    expect((await listed('')).length).toBe(before)
  })

  it('adds one tag (201 with Location, then 204), checks it, replaces all and deletes', async () => {
    const added = await call(member.session, 'PUT', `${nova}/servers/${b}/tags/green`, undefined, V)
    expect(added.status).toBe(201)
    expect(added.headers.get('location')).toBe(`${nova}/servers/${b}/tags/green`)
    const again = await call(member.session, 'PUT', `${nova}/servers/${b}/tags/green`, undefined, V)
    expect(again.status).toBe(204)
    expect(again.headers.get('location')).toBe(`${nova}/servers/${b}/tags/green`)
    expect(await tags(b)).toEqual(['green'])
    expect((await call(member.session, 'GET', `${nova}/servers/${b}/tags/green`, undefined, V)).status).toBe(204)
    fault(await call(member.session, 'GET', `${nova}/servers/${b}/tags/nope`, undefined, V), 404, 'itemNotFound')
    const all = await call(member.session, 'PUT', `${nova}/servers/${b}/tags`, { tags: ['x', 'y', 'green'] }, V)
    expect(all.status).toBe(200)
    expect(all.body).toEqual({ tags: ['x', 'y', 'green'] })
    expect((await call(member.session, 'DELETE', `${nova}/servers/${b}/tags/x`, undefined, V)).status).toBe(204)
    expect(await tags(b)).toEqual(['y', 'green'])
    fault(await call(member.session, 'DELETE', `${nova}/servers/${b}/tags/x`, undefined, V), 404, 'itemNotFound')
  })

  it('filters lists by tags, tags-any, not-tags and not-tags-any', async () => {
    // a: red, blue; b: y, green (the index follows the leaf's changes).
    await waitFor('index has b tags', async () => ((await listed('tags=green')).length === 1 ? true : undefined))
    expect(await listed('tags=red,blue')).toEqual(['tag-a'])
    expect(await listed('tags=red,green')).toEqual([])
    expect(await listed('tags-any=red,green')).toEqual(['tag-a', 'tag-b'])
    expect(await listed('not-tags=red,blue')).toEqual(['tag-b'])
    expect(await listed('not-tags=red,y')).toEqual(['tag-a', 'tag-b'])
    expect(await listed('not-tags-any=red')).toEqual(['tag-b'])
    expect(await listed('tags-any=green&not-tags=y')).toEqual([])
    const detail = await call(member.session, 'GET', `${nova}/servers/detail?tags=red`, undefined, V)
    expect(detail.body.servers.map((s: { id: string }) => s.id)).toEqual([a])
  })

  it.each([
    ['51 tags', 'PUT', '/tags', { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }],
    ['a 61-character tag', 'PUT', '/tags', { tags: ['t'.repeat(61)] }],
    ['a tag with a comma', 'PUT', '/tags', { tags: ['a,b'] }],
    ['no tags key', 'PUT', '/tags', { tag: ['a'] }],
    ['a tag that is not a string', 'PUT', '/tags', { tags: [1] }],
    ['a URL tag with a comma', 'PUT', '/tags/a,b', undefined],
    ['a URL tag with a slash', 'PUT', '/tags/a%2Fb', undefined],
    ['a 61-character URL tag', 'PUT', `/tags/${'t'.repeat(61)}`, undefined],
  ])('refuses %s: 400, nothing changed', async (_what, method, path, body) => {
    const before = await tags(a)
    fault(await call(member.session, method, `${nova}/servers/${a}${path}`, body, V), 400, 'badRequest')
    expect(await tags(a)).toEqual(before)
  })

  it('refuses a 51st tag added one at a time: 400', async () => {
    const fifty = Array.from({ length: 50 }, (_, i) => `t${i}`)
    expect((await call(member.session, 'PUT', `${nova}/servers/${b}/tags`, { tags: fifty }, V)).status).toBe(200)
    fault(await call(member.session, 'PUT', `${nova}/servers/${b}/tags/one-more`, undefined, V), 400, 'badRequest')
    expect(await tags(b)).toEqual(fifty)
    expect((await call(member.session, 'DELETE', `${nova}/servers/${b}/tags`, undefined, V)).status).toBe(204)
    expect(await tags(b)).toEqual([])
  })

  it('answers 404 below 2.26, for missing and other projects\' servers', async () => {
    fault(await call(member.session, 'GET', `${nova}/servers/${a}/tags`, undefined, mv('2.25')), 404, 'itemNotFound')
    fault(await call(member.session, 'PUT', `${nova}/servers/${a}/tags/z`, undefined, mv('2.25')), 404, 'itemNotFound')
    for (const [method, path, body] of [
      ['GET', '/tags', undefined],
      ['PUT', '/tags', { tags: ['z'] }],
      ['DELETE', '/tags', undefined],
      ['GET', '/tags/red', undefined],
      ['PUT', '/tags/z', undefined],
      ['DELETE', '/tags/red', undefined],
    ] as const) {
      fault(await call(member.session, method, `${nova}/servers/${missing}${path}`, body, V), 404, 'itemNotFound')
      fault(await call(other.session, method, `${nova}/servers/${a}${path}`, body, V), 404, 'itemNotFound')
    }
    expect(await tags(a)).toEqual(['red', 'blue'])
  })

  it('refuses changes while the server is locked by an admin (409), nothing changed', async () => {
    expect((await call(admin, 'POST', `${nova}/servers/${a}/action`, { lock: null })).status).toBe(202)
    fault(await call(member.session, 'PUT', `${nova}/servers/${a}/tags/z`, undefined, V), 409, 'conflictingRequest')
    fault(await call(member.session, 'DELETE', `${nova}/servers/${a}/tags`, undefined, V), 409, 'conflictingRequest')
    expect((await call(admin, 'POST', `${nova}/servers/${a}/action`, { unlock: null })).status).toBe(202)
    expect(await tags(a)).toEqual(['red', 'blue'])
  })
})
