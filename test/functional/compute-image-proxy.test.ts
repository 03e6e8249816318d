import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

/**
 * Nova's image proxy (`GET` / `DELETE /v2.1/images/{id}`, up to microversion 2.35), which Tempest's
 * compute images client waits on after createImage (tempest.api.compute.images.*).
 */
describe('compute API image proxy', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let alice: ProjectUser
  let bob: ProjectUser
  let nova: string
  let id: string

  const snapshot = async (name: string): Promise<string> => {
    const res = await call(alice.session, 'POST', `${nova}/servers/${id}/action`, { createImage: { name } }, mv('2.1'))
    expect(res.status).toBe(202)
    return (res.headers.get('location') ?? '').split('/').pop() ?? ''
  }
  const show = (imageId: string, who: Session = alice.session, v = '2.1') => call(who, 'GET', `${nova}/images/${imageId}`, undefined, mv(v))
  const idle = () =>
    waitFor('server idle', async () => {
      const s = (await call(admin, 'GET', `${nova}/servers/${id}`, undefined, mv('2.1'))).body.server
      return s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null ? s : undefined
    })

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    alice = await createProjectUser(fed.api.urls.identity, admin, 'alice-proxy')
    bob = await createProjectUser(fed.api.urls.identity, admin, 'bob-proxy')
    nova = endpoint(alice.session, 'compute', 'region-one')
    const glance = endpoint(alice.session, 'image', 'region-one')
    const cirros = (await call(alice.session, 'GET', `${glance}/v2/images?name=cirros`)).body.images[0].id
    const res = await call(alice.session, 'POST', `${nova}/servers`, { server: { name: 'proxied', imageRef: cirros, flavorRef: '1' } })
    expect(res.status).toBe(202)
    id = res.body.server.id
    await waitForStatus(alice.session, nova, id, 'ACTIVE')
  }, 60_000)

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('GET /images/{id} shows a snapshot in Nova’s shape, SAVING then ACTIVE, with its server', async () => {
    const imageId = await snapshot('proxy-snap')
    const first = await show(imageId)
    expect(first.status).toBe(200)
    expect(['SAVING', 'ACTIVE']).toContain(first.body.image.status)
    const img = await waitFor('image ACTIVE', async () => {
      const r = await show(imageId)
      return r.body.image?.status === 'ACTIVE' ? r.body.image : undefined
    })
    expect(img).toMatchObject({ id: imageId, name: 'proxy-snap', progress: 100, minRam: 0, metadata: { instance_uuid: id }, server: { id } })
    expect(img.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(img.links.map((l: any) => l.rel)).toEqual(['self', 'bookmark', 'alternate'])
    expect(Object.keys(img).sort()).toEqual(['OS-EXT-IMG-SIZE:size', 'created', 'id', 'links', 'metadata', 'minDisk', 'minRam', 'name', 'progress', 'server', 'status', 'updated'])
    await idle()
  })

  it('createImage metadata overrides Nova’s own properties (image_type), as Tempest’s test_create_delete_image expects', async () => {
    const res = await call(alice.session, 'POST', `${nova}/servers/${id}/action`, { createImage: { name: 'typed', metadata: { image_type: 'test' } } }, mv('2.1'))
    expect(res.status).toBe(202)
    const imageId = (res.headers.get('location') ?? '').split('/').pop() ?? ''
    const img = await waitFor('image ACTIVE', async () => {
      const r = await show(imageId)
      return r.body.image?.status === 'ACTIVE' ? r.body.image : undefined
    })
    expect(img.metadata).toMatchObject({ image_type: 'test', instance_uuid: id })
    await idle()
  })

  it('is gone from 2.36 on, and another project’s image is 404 to show and to delete', async () => {
    const imageId = await snapshot('proxy-private')
    await idle()
    expect((await show(imageId, alice.session, '2.36')).status).toBe(404)
    expect((await show(imageId, bob.session)).status).toBe(404)
    const del = await call(bob.session, 'DELETE', `${nova}/images/${imageId}`, undefined, mv('2.1'))
    expect(del.status).toBe(404)
    expect(del.body.itemNotFound.code).toBe(404)
    expect((await show(imageId)).status).toBe(200)
  })

  it('DELETE /images/{id} of a snapshot still saving is 204, then the image is 404 and the server goes back to ACTIVE', async () => {
    const imageId = await snapshot('proxy-doomed')
    const del = await call(alice.session, 'DELETE', `${nova}/images/${imageId}`, undefined, mv('2.1'))
    expect(del.status).toBe(204)
    expect((await show(imageId)).status).toBe(404)
    await idle()
    expect((await show(imageId)).status).toBe(404)
  })
})
