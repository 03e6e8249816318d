import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Reply, Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

const R2_HOSTS = ['r2-c1', 'r2-c2', 'r2-c3', 'r2-c4']

/** Host aggregates created through the API, and the leaf scheduler's aggregate filters. */
describe('compute API: host aggregates', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let member: ProjectUser
  let outsider: ProjectUser
  let global: string
  let aggId: number

  const fault = (r: Reply, status: number, name: string): void => {
    expect(r.status).toBe(status)
    expect(Object.keys(r.body)).toEqual([name])
    expect(r.body[name].code).toBe(status)
  }
  const agg = (method: string, path: string, body?: unknown, s: Session = admin): Promise<Reply> => call(s, method, `${global}/os-aggregates${path}`, body, mv('2.41'))
  const shown = async (): Promise<any> => (await agg('GET', `/${aggId}`)).body.aggregate

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    member = await createProjectUser(fed.api.urls.identity, admin, 'agg-member')
    outsider = await createProjectUser(fed.api.urls.identity, admin, 'agg-outsider')
    global = `${fed.api.urls.compute}/v2.1`
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('creates an aggregate (200, no hosts or metadata in the answer) and lists it beside the zones', async () => {
    const created = await agg('POST', '', { aggregate: { name: 'fast-hosts', availability_zone: 'region-two-az' } })
    expect(created.status).toBe(200)
    expect(Object.keys(created.body.aggregate).sort()).toEqual(['availability_zone', 'created_at', 'deleted', 'deleted_at', 'id', 'name', 'updated_at', 'uuid'])
    expect(created.body.aggregate).toMatchObject({ name: 'fast-hosts', availability_zone: 'region-two-az', deleted: false, updated_at: null })
    aggId = created.body.aggregate.id
    const list = await agg('GET', '')
    expect(list.body.aggregates.map((a: any) => a.name).sort()).toEqual(['dc1', 'dc2', 'fast-hosts', 'region-two-az'])
    expect(new Set(list.body.aggregates.map((a: any) => a.id)).size).toBe(4)
    expect(await shown()).toMatchObject({ id: aggId, hosts: [], metadata: { availability_zone: 'region-two-az' } })
  })

  it('adds and removes hosts, sets and deletes metadata, renames', async () => {
    for (const host of R2_HOSTS) expect((await agg('POST', `/${aggId}/action`, { add_host: { host } })).status).toBe(200)
    expect((await shown()).hosts.sort()).toEqual(R2_HOSTS)
    const md = await agg('POST', `/${aggId}/action`, { set_metadata: { metadata: { ssd: 'true', filter_tenant_id: member.projectId } } })
    expect(md.status).toBe(200)
    expect(md.body.aggregate.metadata).toEqual({ availability_zone: 'region-two-az', ssd: 'true', filter_tenant_id: member.projectId })
    expect((await agg('POST', `/${aggId}/action`, { set_metadata: { metadata: { ssd: null } } })).body.aggregate.metadata).not.toHaveProperty('ssd')
    const renamed = await agg('PUT', `/${aggId}`, { aggregate: { name: 'isolated' } })
    expect(renamed.status).toBe(200)
    expect(renamed.body.aggregate).toMatchObject({ name: 'isolated', availability_zone: 'region-two-az' })
    expect(renamed.body.aggregate.updated_at).not.toBeNull()
  })

  it('schedules a project isolated by filter_tenant_id onto the aggregate, and keeps others off it', async () => {
    const r2 = endpoint(member.session, 'compute', 'region-two')
    const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-two')}/v2/images?name=cirros`)).body.images[0].id
    const boot = async (s: Session): Promise<any> => {
      const r = await call(s, 'POST', `${r2}/servers`, { server: { name: 'iso', imageRef, flavorRef: '1' } })
      expect(r.status).toBe(202)
      return r.body.server.id
    }
    const mine = await waitForStatus(member.session, r2, await boot(member.session), 'ACTIVE')
    expect(mine.status).toBe('ACTIVE')
    const theirs = await waitForStatus(outsider.session, endpoint(outsider.session, 'compute', 'region-two'), await boot(outsider.session), 'ERROR')
    expect(theirs.fault.message).toMatch(/No valid host/i)
  })

  it.each([
    ['a blank name', 'POST', '', { aggregate: { name: '' } }],
    ['a 256-character name', 'POST', '', { aggregate: { name: 'n'.repeat(256) } }],
    ['an unknown key', 'POST', '', { aggregate: { name: 'x', foo: 1 } }],
    ['a zone with a colon', 'POST', '', { aggregate: { name: 'x', availability_zone: 'a:b' } }],
    ['an empty update', 'PUT', '/{id}', { aggregate: {} }],
    ['an unknown action', 'POST', '/{id}/action', { frobnicate: {} }],
    ['add_host without host', 'POST', '/{id}/action', { add_host: {} }],
    ['a bad metadata key', 'POST', '/{id}/action', { set_metadata: { metadata: { 'a/b': 'c' } } }],
    ['a 256-character metadata value', 'POST', '/{id}/action', { set_metadata: { metadata: { a: 'v'.repeat(256) } } }],
    ['a non-integer id', 'GET', '/abc', undefined],
  ])('refuses %s with 400, changing nothing', async (_what, method, path, body) => {
    const before = await agg('GET', '')
    fault(await agg(method, path.replace('{id}', String(aggId)), body), 400, 'badRequest')
    expect((await agg('GET', '')).body).toEqual(before.body)
  })

  it('answers 404, 409 and 403 as Nova does', async () => {
    fault(await agg('GET', '/424242'), 404, 'itemNotFound')
    fault(await agg('GET', '/-1'), 404, 'itemNotFound')
    fault(await agg('DELETE', '/-1'), 404, 'itemNotFound')
    fault(await agg('PUT', '/424242', { aggregate: { name: 'x' } }), 404, 'itemNotFound')
    fault(await agg('POST', `/${aggId}/action`, { add_host: { host: 'no-such-host' } }), 404, 'itemNotFound')
    fault(await agg('POST', `/${aggId}/action`, { remove_host: { host: 'r1-dc1-c1' } }), 404, 'itemNotFound')
    fault(await agg('POST', `/${aggId}/action`, { add_host: { host: 'r2-c1' } }), 409, 'conflictingRequest')
    fault(await agg('POST', '', { aggregate: { name: 'isolated' } }), 409, 'conflictingRequest')
    // A host of another zone cannot join an aggregate of this zone.
    fault(await agg('POST', `/${aggId}/action`, { add_host: { host: 'r1-dc1-c1' } }), 400, 'badRequest')
    fault(await agg('DELETE', `/${aggId}`), 400, 'badRequest')
    fault(await agg('GET', '', undefined, member.session), 403, 'forbidden')
    fault(await agg('POST', '', { aggregate: { name: 'by-member' } }, member.session), 403, 'forbidden')
    expect((await shown()).hosts.sort()).toEqual(R2_HOSTS)
  })

  it('accepts image pre-caching requests from 2.81 (202), validated', async () => {
    const img = '11111111-2222-4333-8444-555555555555'
    const images = (body: unknown, v: string, id: number = aggId): Promise<Reply> => call(admin, 'POST', `${global}/os-aggregates/${id}/images`, body, mv(v))
    expect((await images({ cache: [{ id: img }] }, '2.81')).status).toBe(202)
    fault(await images({ cache: [{ id: img }] }, '2.80'), 404, 'itemNotFound')
    fault(await images({ cache: [] }, '2.81'), 400, 'badRequest')
    fault(await images({ cache: [{ id: img }, { id: img }] }, '2.81'), 400, 'badRequest')
    fault(await images({ cache: [{ id: 'x' }] }, '2.81'), 400, 'badRequest')
    fault(await images({ cache: [{ id: img }] }, '2.81', 424242), 404, 'itemNotFound')
  })

  it('deletes an emptied aggregate (200), then it is gone', async () => {
    for (const host of R2_HOSTS) expect((await agg('POST', `/${aggId}/action`, { remove_host: { host } })).status).toBe(200)
    const del = await agg('DELETE', `/${aggId}`)
    expect(del.status).toBe(200)
    fault(await agg('GET', `/${aggId}`), 404, 'itemNotFound')
    expect((await agg('GET', '')).body.aggregates).toHaveLength(3)
  })
})
