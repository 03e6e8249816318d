import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { TcpProxy } from '../helpers/tcp-proxy.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

const REGION_TWO = 'api!region-two'

/**
 * A region that hangs (its link takes every request and answers nothing, as a stopped process
 * behind a live TCP stack does) is found down from its silence; from then on the read path does
 * not wait on it: its servers are shown from the index as UNKNOWN (Nova's 2.69 partial records),
 * actions on them are refused with 409, and the other region is served as usual. It is back in
 * service as soon as it reports again.
 */
describe('a hung region: known down, not waited on, back when it reports', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let global: string
  let r2: string
  let proxy: TcpProxy
  let inR1: string
  let inR2: string

  const at = (mv: string) => ({ 'openstack-api-version': `compute ${mv}` })

  beforeAll(async () => {
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '200'
    process.env['FEDERATION_DOWN_AFTER_MS'] = '1000'
    cfg = embeddedConfig()
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    delete process.env['FEDERATION_DOWN_AFTER_MS']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    global = `${fed.api.urls.compute}/v2.1`
    r2 = endpoint(admin, 'compute', 'region-two')
    const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-two')}/v2/images?name=cirros`)).body.images[0].id
    const boot = async (url: string, name: string): Promise<string> => {
      const res = await call(admin, 'POST', `${url}/servers`, { server: { name, imageRef, flavorRef: '1' } })
      return (await waitForStatus(admin, url, res.body.server.id, 'ACTIVE')).id
    }
    inR1 = await boot(endpoint(admin, 'compute', 'region-one'), 'vm-r1')
    inR2 = await boot(r2, 'vm-r2')
    const row = await fed.api.db.selectFrom('cells').select('grpc_address').where('path', '=', REGION_TWO).executeTakeFirstOrThrow()
    const [host, port] = (row.grpc_address ?? '').split(':')
    proxy = await startTcpProxy({ host: host ?? '127.0.0.1', port: Number(port) })
    await fed.api.db.updateTable('cells').set({ grpc_address: proxy.address }).where('path', '=', REGION_TWO).execute()
    await fed.api.tree.refreshChildren()
    await waitFor('region two up through the proxy', async () => (proxy.stats.relayed > 0 && !fed.api.tree.isDown(REGION_TWO) ? true : undefined), 10_000)
  })

  afterAll(async () => {
    await fed?.stop()
    await proxy?.close()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('finds the hung region down from its silence', async () => {
    proxy.mode = 'drop-replies'
    await waitFor('region two down', async () => (fed.api.tree.isDown(REGION_TWO) ? true : undefined), 15_000)
    expect(fed.api.tree.isDown('api!region-one!dc1')).toBe(false)
  })

  it('lists and shows its servers as 2.69 partial records, the other region as usual', async () => {
    const detail = await call(admin, 'GET', `${global}/servers/detail`, undefined, at('2.69'))
    expect(detail.status).toBe(200)
    const byId = new Map<string, any>(detail.body.servers.map((s: any) => [s.id, s]))
    expect(byId.get(inR1)).toMatchObject({ status: 'ACTIVE', name: 'vm-r1' })
    const partial = byId.get(inR2)
    expect(Object.keys(partial).sort()).toEqual(['created', 'id', 'links', 'status', 'tenant_id'])
    expect(partial.status).toBe('UNKNOWN')

    const brief = await call(admin, 'GET', `${global}/servers`, undefined, at('2.69'))
    expect(brief.body.servers.find((s: any) => s.id === inR2)).toEqual({ id: inR2, status: 'UNKNOWN', links: expect.any(Array) })
    expect(brief.body.servers.find((s: any) => s.id === inR1)).toMatchObject({ id: inR1, name: 'vm-r1' })

    const shown = await call(admin, 'GET', `${global}/servers/${inR2}`, undefined, at('2.69'))
    expect(shown.status).toBe(200)
    expect(shown.body.server).toMatchObject({ id: inR2, status: 'UNKNOWN', 'OS-EXT-STS:power_state': 1, user_id: expect.any(String) })
    expect(shown.body.server.flavor).toBeDefined()
    expect(shown.body.server.name).toBeUndefined()

    // Below 2.69 the full shape, filled from the index.
    const old = await call(admin, 'GET', `${global}/servers/${inR2}`, undefined, at('2.1'))
    expect(old.body.server).toMatchObject({ id: inR2, name: 'vm-r2', status: 'UNKNOWN' })
  })

  it('says which cells admin listings leave out: hypervisors and services, with 2.69 partial services', async () => {
    const hypervisors = await call(admin, 'GET', `${global}/os-hypervisors`)
    expect(hypervisors.status).toBe(200)
    expect(hypervisors.headers.get('x-federation-cells-down')).toBe(REGION_TWO)
    expect(hypervisors.body.hypervisors.map((h: any) => h.hypervisor_hostname).sort()).toEqual(
      ['r1-dc1-c1', 'r1-dc1-c2', 'r1-dc1-c3', 'r1-dc1-c4', 'r1-dc2-c1', 'r1-dc2-c2', 'r1-dc2-c3', 'r1-dc2-c4'],
    )
    const services = await call(admin, 'GET', `${global}/os-services`, undefined, at('2.69'))
    expect(services.headers.get('x-federation-cells-down')).toBe(REGION_TWO)
    const unknown = services.body.services.filter((s: any) => s.status === 'UNKNOWN')
    expect(unknown).toEqual(['r2-c1', 'r2-c2', 'r2-c3', 'r2-c4'].map((host) => ({ binary: 'nova-compute', host, status: 'UNKNOWN' })))
    const regionOne = await call(admin, 'GET', `${endpoint(admin, 'compute', 'region-one')}/os-services`, undefined, at('2.69'))
    expect(regionOne.headers.get('x-federation-cells-down')).toBeNull()
    expect(regionOne.body.services.every((s: any) => s.status !== 'UNKNOWN')).toBe(true)
  })

  it('refuses actions on its servers with 409 and changes nothing', async () => {
    const stop = await call(admin, 'POST', `${global}/servers/${inR2}/action`, { 'os-stop': null })
    expect(stop.status).toBe(409)
    expect(stop.body.conflictingRequest.message).toMatch(/is down/)
    const del = await call(admin, 'DELETE', `${global}/servers/${inR2}`)
    expect(del.status).toBe(409)
    const md = await call(admin, 'PUT', `${global}/servers/${inR2}/metadata/k`, { meta: { k: 'v' } })
    expect(md.status).toBe(409)
    expect(md.body.conflictingRequest.message).toMatch(/is down/)
    // Snapshots and shelving create no image for a server whose cell is down.
    const images = async (): Promise<number> => (await call(admin, 'GET', `${fed.api.urls.image}/v2/images`)).body.images.length
    const before = await images()
    for (const body of [{ createImage: { name: 'snap' } }, { shelve: null }, { rescue: null }, { 'os-getConsoleOutput': {} }]) {
      const refused = await call(admin, 'POST', `${global}/servers/${inR2}/action`, body)
      expect(refused.status, JSON.stringify(body)).toBe(409)
      expect(refused.body.conflictingRequest.message).toMatch(/is down/)
    }
    expect(await images()).toBe(before)
  })

  it('serves the region again as soon as it reports', async () => {
    proxy.cut()
    proxy.mode = 'pass'
    await waitFor('region two back', async () => (!fed.api.tree.isDown(REGION_TWO) ? true : undefined), 15_000)
    const shown = await call(admin, 'GET', `${global}/servers/${inR2}`, undefined, at('2.69'))
    expect(shown.body.server).toMatchObject({ id: inR2, status: 'ACTIVE', name: 'vm-r2' })
    const hypervisors = await call(admin, 'GET', `${global}/os-hypervisors`)
    expect(hypervisors.headers.get('x-federation-cells-down')).toBeNull()
    expect(hypervisors.body.hypervisors).toHaveLength(12)
    const stop = await call(admin, 'POST', `${global}/servers/${inR2}/action`, { 'os-stop': null })
    expect(stop.status).toBe(202)
    await waitForStatus(admin, global, inR2, 'SHUTOFF')
  })
})
