import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { federationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

/**
 * Shelving with Nova's `shelved_offload_time` above 0: the instance stays SHELVED on its host
 * (guest off, claim held) until an admin offloads it or its time is up; unshelve from SHELVED
 * powers the same guest on again.
 */
describe('embedded federation: FEDERATION_SHELVED_OFFLOAD_TIME', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let nova: string
  let id: string
  const saved = process.env['FEDERATION_SHELVED_OFFLOAD_TIME']

  const server = async (): Promise<any> => (await call(admin, 'GET', `${nova}/servers/${id}`)).body.server
  const settle = (status: string, timeoutMs?: number): Promise<any> =>
    waitFor(
      `server ${status}`,
      async () => {
        const s = await server()
        return s.status === status && s['OS-EXT-STS:task_state'] === null ? s : undefined
      },
      timeoutMs,
    )
  const action = (body: unknown) => call(admin, 'POST', `${nova}/servers/${id}/action`, body)

  beforeAll(async () => {
    process.env['FEDERATION_SHELVED_OFFLOAD_TIME'] = '4'
    cfg = embeddedConfig()
    expect(cfg.timing.shelvedOffloadTimeS).toBe(4)
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    nova = endpoint(admin, 'compute', 'region-two')
    const cirros = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-two')}/v2/images?name=cirros`)).body.images[0].id
    const res = await call(admin, 'POST', `${nova}/servers`, { server: { name: 'slow-shelf', imageRef: cirros, flavorRef: '1' } })
    id = res.body.server.id
    await waitForStatus(admin, nova, id, 'ACTIVE')
  }, 60_000)

  afterAll(async () => {
    if (saved === undefined) delete process.env['FEDERATION_SHELVED_OFFLOAD_TIME']
    else process.env['FEDERATION_SHELVED_OFFLOAD_TIME'] = saved
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('rejects a value that is not a whole number of seconds >= -1', () => {
    for (const bad of ['-2', '1.5', 'soon']) {
      process.env['FEDERATION_SHELVED_OFFLOAD_TIME'] = bad
      expect(() => federationConfig('embedded', { 'state-dir': cfg.stateDir })).toThrow(/FEDERATION_SHELVED_OFFLOAD_TIME/)
    }
    process.env['FEDERATION_SHELVED_OFFLOAD_TIME'] = '-1'
    expect(federationConfig('embedded', { 'state-dir': cfg.stateDir }).timing.shelvedOffloadTimeS).toBe(-1)
    process.env['FEDERATION_SHELVED_OFFLOAD_TIME'] = '4'
  })

  it('shelve keeps the guest (off) on its host; unshelve powers the same guest on', async () => {
    const host = (await server())['OS-EXT-SRV-ATTR:host'] as string
    expect((await action({ shelve: null })).status).toBe(202)
    const shelved = await settle('SHELVED')
    expect(shelved['OS-EXT-SRV-ATTR:host']).toBe(host)
    expect((await fed.driverOf(host)?.getInfo(id))?.powerState).toBe(4)
    expect((await action({ unshelve: null })).status).toBe(202)
    const back = await settle('ACTIVE')
    expect(back['OS-EXT-SRV-ATTR:host']).toBe(host)
    expect((await fed.driverOf(host)?.getInfo(id))?.powerState).toBe(1)
  })

  it('an admin offloads a SHELVED instance at once: the guest leaves the host', async () => {
    const host = (await server())['OS-EXT-SRV-ATTR:host'] as string
    expect((await action({ shelve: null })).status).toBe(202)
    await settle('SHELVED')
    expect((await action({ shelveOffload: null })).status).toBe(202)
    const off = await settle('SHELVED_OFFLOADED')
    expect(off['OS-EXT-SRV-ATTR:host']).toBeNull()
    expect(await fed.driverOf(host)?.listInstances()).not.toContain(id)
    expect((await action({ unshelve: null })).status).toBe(202)
    await settle('ACTIVE')
  })

  it('a SHELVED instance is offloaded once its time is up', async () => {
    expect((await action({ shelve: null })).status).toBe(202)
    const shelved = await settle('SHELVED')
    expect(shelved['OS-EXT-SRV-ATTR:host']).not.toBeNull()
    const off = await settle('SHELVED_OFFLOADED', 30_000)
    expect(off['OS-EXT-SRV-ATTR:host']).toBeNull()
    const actions = (await call(admin, 'GET', `${nova}/servers/${id}/os-instance-actions`)).body.instanceActions.map((a: any) => a.action)
    expect(actions.slice(0, 2)).toEqual(['shelveOffload', 'shelve'])
  })

  it('deleting a shelved instance deletes its shelved image too', async () => {
    const glance = endpoint(admin, 'image', 'region-two')
    const shelvedImages = async (): Promise<any[]> =>
      ((await call(admin, 'GET', `${glance}/v2/images`)).body.images as any[]).filter((i) => i.name === 'slow-shelf-shelved')
    expect(await shelvedImages()).toHaveLength(1)
    expect((await call(admin, 'DELETE', `${nova}/servers/${id}`)).status).toBe(204)
    await waitFor('server gone', async () => ((await call(admin, 'GET', `${nova}/servers/${id}`)).status === 404 ? true : undefined))
    expect(await shelvedImages()).toEqual([])
  })
})
