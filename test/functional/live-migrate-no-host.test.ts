import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import { mv } from '../helpers/project-user.js'

/**
 * Live migration when no host can take the guest, as Nova answers it: before 2.34 the scheduler
 * runs in the request (400), from 2.34 after it (202, then the migration ends in `error` and the
 * server stays ACTIVE on its host). Also Nova's state machine for stop: RESCUED is refused (409).
 */
describe('embedded federation: live migration with no valid host; stop of a rescued server', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let r2: string
  let imageRef: string
  let id: string
  let source: string
  const disabled: string[] = []

  const server = async (): Promise<any> => (await call(admin, 'GET', `${r2}/servers/${id}`, undefined, mv('2.3'))).body.server
  const live = (version: string) => call(admin, 'POST', `${r2}/servers/${id}/action`, { 'os-migrateLive': { host: null, block_migration: 'auto' } }, mv(version))
  const migrations = async (): Promise<any[]> => (await call(admin, 'GET', `${r2}/os-migrations?instance_uuid=${id}`, undefined, mv('2.59'))).body.migrations

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    r2 = endpoint(admin, 'compute', 'region-two')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-two')}/v2/images?name=cirros`)).body.images[0].id
    const res = await call(admin, 'POST', `${r2}/servers`, { server: { name: 'pinned', imageRef, flavorRef: '1' } })
    id = res.body.server.id
    await waitForStatus(admin, r2, id, 'ACTIVE')
    source = (await server())['OS-EXT-SRV-ATTR:host']
    // Every other compute service of the cell disabled: no host but the source would do.
    const services = (await call(admin, 'GET', `${r2}/os-services?binary=nova-compute`, undefined, mv('2.53'))).body.services as any[]
    for (const s of services.filter((x) => x.host !== source)) {
      const r = await call(admin, 'PUT', `${r2}/os-services/${s.id}`, { status: 'disabled', disabled_reason: 'test' }, mv('2.53'))
      expect(r.status).toBe(200)
      disabled.push(s.id)
    }
    expect(disabled.length).toBeGreaterThan(0)
  }, 60_000)

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('before 2.34: 400 No valid host, the server untouched', async () => {
    const r = await live('2.30')
    expect(r.status).toBe(400)
    expect(r.body.badRequest.message).toMatch(/^No valid host/)
    const s = await server()
    expect({ status: s.status, task: s['OS-EXT-STS:task_state'], host: s['OS-EXT-SRV-ATTR:host'] }).toEqual({ status: 'ACTIVE', task: null, host: source })
  })

  it('from 2.34: 202, then the migration is in error and the server stays ACTIVE on its host', async () => {
    const before = (await migrations()).length
    const r = await live('2.34')
    expect(r.status).toBe(202)
    const list = await waitFor('the failed migration', async () => {
      const l = await migrations()
      return l.length > before && l.every((m) => m.status === 'error') ? l : undefined
    })
    expect(list[0]).toMatchObject({ migration_type: 'live-migration', status: 'error', source_compute: source })
    const s = await waitForStatus(admin, r2, id, 'ACTIVE')
    expect({ task: s['OS-EXT-STS:task_state'], host: s['OS-EXT-SRV-ATTR:host'] }).toEqual({ task: null, host: source })
    // The instance action says why.
    const actions = (await call(admin, 'GET', `${r2}/servers/${id}/os-instance-actions`)).body.instanceActions as any[]
    expect(actions.find((a) => a.action === 'live-migration')).toBeDefined()
  })

  it('stop of a RESCUED server is 409, as Nova (stop only from ACTIVE or ERROR)', async () => {
    expect((await call(admin, 'POST', `${r2}/servers/${id}/action`, { rescue: null })).status).toBe(200)
    await waitForStatus(admin, r2, id, 'RESCUE')
    const r = await call(admin, 'POST', `${r2}/servers/${id}/action`, { 'os-stop': null })
    expect(r.status).toBe(409)
    expect((await server()).status).toBe('RESCUE')
  })
})
