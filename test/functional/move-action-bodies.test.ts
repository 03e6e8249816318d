import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import { mv } from '../helpers/project-user.js'

/**
 * What Tempest sends for the move actions and rebuild, answered as Nova does (issue 11): the
 * bodies `{"migrate": {}}` (before 2.56), `{"confirmResize": {}}` and `{"revertResize": {}}`, which
 * Nova's schemas let through, the 2.75 rebuild answer, without `OS-EXT-SRV-ATTR:user_data`, and
 * the os-migrations list with Nova's keys only.
 */
describe('move action bodies and the 2.75 rebuild answer, as Tempest sends and reads them', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let r2: string
  let imageRef: string

  const boot = async (name: string): Promise<any> => {
    const res = await call(admin, 'POST', `${r2}/servers`, { server: { name, imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    return waitForStatus(admin, r2, res.body.server.id, 'ACTIVE')
  }
  const action = (id: string, body: unknown, version = '2.1') => call(admin, 'POST', `${r2}/servers/${id}/action`, body, mv(version))

  beforeAll(async () => {
    cfg = embeddedConfig(undefined, { driver: 'fake' })
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    r2 = endpoint(admin, 'compute', 'region-two')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-two')}/v2/images?name=cirros`)).body.images[0].id
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('cold-migrates on {"migrate": {}} at 2.1 and confirms on {"confirmResize": {}}', async () => {
    const server = await boot('migrate-empty-body')
    expect((await action(server.id, { migrate: {} })).status).toBe(202)
    await waitForStatus(admin, r2, server.id, 'VERIFY_RESIZE')
    expect((await action(server.id, { confirmResize: {} })).status).toBe(204)
    await waitForStatus(admin, r2, server.id, 'ACTIVE')
  })

  it('reverts a cold migration on {"revertResize": {}}', async () => {
    const server = await boot('revert-empty-body')
    expect((await action(server.id, { migrate: null })).status).toBe(202)
    await waitForStatus(admin, r2, server.id, 'VERIFY_RESIZE')
    expect((await action(server.id, { revertResize: {} })).status).toBe(202)
    await waitForStatus(admin, r2, server.id, 'ACTIVE')
  })

  it('still validates the migrate body from 2.56', async () => {
    const server = await boot('migrate-bad-body')
    const res = await action(server.id, { migrate: { hots: 'x' } }, '2.56')
    expect(res.status).toBe(400)
    expect(res.body.badRequest.code).toBe(400)
  })

  it('refuses to migrate a suspended server with a 409, whatever the body', async () => {
    const server = await boot('migrate-suspended')
    expect((await action(server.id, { suspend: {} })).status).toBe(202)
    await waitForStatus(admin, r2, server.id, 'SUSPENDED')
    const res = await action(server.id, { migrate: {} })
    expect(res.status).toBe(409)
    expect(res.body.conflictingRequest.code).toBe(409)
  })

  it("answers a 2.75 rebuild without OS-EXT-SRV-ATTR:user_data (update keeps it), with user_data", async () => {
    const server = await boot('rebuild-275')
    const put = await call(admin, 'PUT', `${r2}/servers/${server.id}`, { server: { name: 'rebuild-275' } }, mv('2.75'))
    expect(put.status).toBe(200)
    expect(Object.keys(put.body.server)).toContain('OS-EXT-SRV-ATTR:user_data')
    const rebuilt = await action(server.id, { rebuild: { imageRef } }, '2.75')
    expect(rebuilt.status).toBe(202)
    expect(Object.keys(rebuilt.body.server)).not.toContain('OS-EXT-SRV-ATTR:user_data')
    expect(Object.keys(rebuilt.body.server)).toContain('user_data')
    expect(rebuilt.body.server['OS-EXT-SRV-ATTR:hostname']).toBeTypeOf('string')
  })

  it('lists migrations at 2.1 with exactly the keys of Nova (and of Tempest\'s schema)', async () => {
    const res = await call(admin, 'GET', `${r2}/os-migrations`, undefined, mv('2.1'))
    expect(res.status).toBe(200)
    expect(res.body.migrations.length).toBeGreaterThanOrEqual(2)
    const nova = ['id', 'status', 'instance_uuid', 'source_node', 'source_compute', 'dest_node', 'dest_compute', 'dest_host', 'old_instance_type_id', 'new_instance_type_id', 'created_at', 'updated_at']
    for (const m of res.body.migrations) expect(Object.keys(m).sort()).toEqual([...nova].sort())
  })
})
