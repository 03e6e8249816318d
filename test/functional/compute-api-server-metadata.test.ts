import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Reply, Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser } from '../helpers/project-user.js'

/** The server metadata API, items included, as Nova serves it (Tempest's server metadata tests). */
describe('compute API: server metadata', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let member: ProjectUser
  let other: ProjectUser
  let nova: string
  let serverId: string
  const missing = '00000000-0000-4000-8000-000000000000'

  const fault = (r: Reply, status: number, name: string): void => {
    expect(r.status).toBe(status)
    expect(Object.keys(r.body)).toEqual([name])
    expect(r.body[name].code).toBe(status)
  }
  const metadata = async (): Promise<unknown> => (await call(member.session, 'GET', `${nova}/servers/${serverId}/metadata`)).body.metadata

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    member = await createProjectUser(fed.api.urls.identity, admin, 'md-member')
    other = await createProjectUser(fed.api.urls.identity, admin, 'md-other')
    nova = endpoint(member.session, 'compute', 'region-one')
    const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    const created = await call(member.session, 'POST', `${nova}/servers`, { server: { name: 'md', imageRef, flavorRef: '1', metadata: { a: '1', b: '2' } } })
    expect(created.status).toBe(202)
    serverId = created.body.server.id
    await waitForStatus(member.session, nova, serverId, 'ACTIVE')
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('lists, merges (POST) and replaces (PUT) the whole metadata', async () => {
    expect(await metadata()).toEqual({ a: '1', b: '2' })
    const merged = await call(member.session, 'POST', `${nova}/servers/${serverId}/metadata`, { metadata: { b: '20', c: '3' } })
    expect(merged.status).toBe(200)
    expect(merged.body).toEqual({ metadata: { a: '1', b: '20', c: '3' } })
    const replaced = await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata`, { metadata: { x: 'y', a: '1' } })
    expect(replaced.status).toBe(200)
    expect(replaced.body).toEqual({ metadata: { x: 'y', a: '1' } })
    expect(await metadata()).toEqual({ x: 'y', a: '1' })
    const shown = await call(member.session, 'GET', `${nova}/servers/${serverId}`)
    expect(shown.body.server.metadata).toEqual({ x: 'y', a: '1' })
  })

  it('shows, sets and deletes one item', async () => {
    const item = await call(member.session, 'GET', `${nova}/servers/${serverId}/metadata/x`)
    expect(item.status).toBe(200)
    expect(item.body).toEqual({ meta: { x: 'y' } })
    const set = await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata/nova`, { meta: { nova: 'alt' } })
    expect(set.status).toBe(200)
    expect(set.body).toEqual({ meta: { nova: 'alt' } })
    expect(await metadata()).toEqual({ x: 'y', a: '1', nova: 'alt' })
    const del = await call(member.session, 'DELETE', `${nova}/servers/${serverId}/metadata/x`)
    expect(del.status).toBe(204)
    expect(del.body).toBeUndefined()
    expect(await metadata()).toEqual({ a: '1', nova: 'alt' })
  })

  it.each([
    ['a body key unlike the URL key', 'k1', { meta: { k2: 'v' } }],
    ['two items', 'k1', { meta: { k1: 'v', k2: 'v' } }],
    ['no item', 'k1', { meta: {} }],
    ['metadata instead of meta', 'k1', { metadata: { k1: 'v' } }],
    ['a 256-character value', 'k1', { meta: { k1: 'v'.repeat(256) } }],
    ['a 256-character key', 'k'.repeat(256), { meta: { ['k'.repeat(256)]: 'v' } }],
    ['a blank key (PUT /metadata/ with meta)', '', { meta: { '': 'data1' } }],
  ])('refuses an item PUT with %s: 400, nothing changed', async (_what, key, body) => {
    const before = await metadata()
    fault(await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata/${key}`, body), 400, 'badRequest')
    expect(await metadata()).toEqual(before)
  })

  it('refuses blank keys and missing bodies on the collection: 400, nothing changed', async () => {
    const before = await metadata()
    fault(await call(member.session, 'POST', `${nova}/servers/${serverId}/metadata`, { metadata: { '': 'data1' } }), 400, 'badRequest')
    fault(await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata`, { metadata: { '': 'data1' } }), 400, 'badRequest')
    fault(await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata`, { meta: { a: 'b' } }), 400, 'badRequest')
    fault(await call(member.session, 'POST', `${nova}/servers/${serverId}/metadata`, {}), 400, 'badRequest')
    expect(await metadata()).toEqual(before)
  })

  it('counts the merged items against metadata_items: 403, nothing changed', async () => {
    const before = (await metadata()) as Record<string, string>
    const fill = Object.fromEntries(Array.from({ length: 128 - Object.keys(before).length }, (_, i) => [`f${i}`, 'v']))
    expect((await call(member.session, 'POST', `${nova}/servers/${serverId}/metadata`, { metadata: fill })).status).toBe(200)
    const full = await metadata()
    const over = await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata/one-more`, { meta: { 'one-more': 'v' } })
    fault(over, 403, 'forbidden')
    // Overwriting an existing key adds nothing: allowed at the limit.
    expect((await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata/a`, { meta: { a: '2' } })).status).toBe(200)
    expect(await metadata()).toEqual({ ...(full as object), a: '2' })
    expect((await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata`, { metadata: { a: '1' } })).status).toBe(200)
  })

  it('answers 404 for a missing item, a missing server and another project\'s server', async () => {
    fault(await call(member.session, 'GET', `${nova}/servers/${serverId}/metadata/nope`), 404, 'itemNotFound')
    fault(await call(member.session, 'DELETE', `${nova}/servers/${serverId}/metadata/nope`), 404, 'itemNotFound')
    for (const [method, path, body] of [
      ['GET', '/metadata', undefined],
      ['POST', '/metadata', { metadata: { a: 'b' } }],
      ['PUT', '/metadata', { metadata: { a: 'b' } }],
      ['GET', '/metadata/a', undefined],
      ['PUT', '/metadata/a', { meta: { a: 'b' } }],
      ['DELETE', '/metadata/a', undefined],
    ] as const) {
      fault(await call(member.session, method, `${nova}/servers/${missing}${path}`, body), 404, 'itemNotFound')
      fault(await call(other.session, method, `${nova}/servers/${serverId}${path}`, body), 404, 'itemNotFound')
    }
    expect(await metadata()).toEqual({ a: '1' })
  })

  it('refuses changes to a server locked by an admin with 409 for its owner, changing nothing', async () => {
    expect((await call(admin, 'POST', `${nova}/servers/${serverId}/action`, { lock: null })).status).toBe(202)
    fault(await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata/a`, { meta: { a: 'z' } }), 409, 'conflictingRequest')
    fault(await call(member.session, 'DELETE', `${nova}/servers/${serverId}/metadata/a`), 409, 'conflictingRequest')
    expect((await call(admin, 'POST', `${nova}/servers/${serverId}/action`, { unlock: null })).status).toBe(202)
    expect(await metadata()).toEqual({ a: '1' })
  })
})
