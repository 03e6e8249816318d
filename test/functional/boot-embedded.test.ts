import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

/** The whole federation in one process (SQLite, in-process bus, gRPC between cells). */
describe('embedded federation: boot to ACTIVE end to end', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let r1: string
  let r2: string
  let global: string
  const servers: Record<string, string> = {}

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    r1 = endpoint(admin, 'compute', 'region-one')
    r2 = endpoint(admin, 'compute', 'region-two')
    global = `${fed.api.urls.compute}/v2.1`
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('lists one compute endpoint per region in the catalog, the federation-wide one first', () => {
    const compute = admin.catalog.find((c) => c.type === 'compute')
    const publicEndpoints = compute?.endpoints.filter((e) => e.interface === 'public') ?? []
    expect(publicEndpoints.map((e) => e.region)).toEqual(['federation', 'region-one', 'region-two'])
    expect(publicEndpoints[0]?.url).toBe(fed.api.urls.compute + '/v2.1')
    expect(r1).not.toEqual(r2)
  })

  it('shows the regions of the tree as children of the federation-wide region', async () => {
    const regions = await call(admin, 'GET', `${fed.api.urls.identity}/v3/regions`)
    expect(regions.body.regions.map((r: any) => [r.id, r.parent_region_id])).toEqual([
      ['federation', null],
      ['region-one', 'federation'],
      ['region-two', 'federation'],
    ])
    const hypervisors = await call(admin, 'GET', `${endpoint(admin, 'compute', 'federation')}/os-hypervisors`)
    expect(hypervisors.body.hypervisors).toHaveLength(12)
  })

  it('seeds the classic flavors', async () => {
    const list = await call(admin, 'GET', `${r1}/flavors/detail`)
    expect(list.status).toBe(200)
    const byName = Object.fromEntries(list.body.flavors.map((f: any) => [f.name, f]))
    expect(byName['m1.tiny']).toMatchObject({ id: '1', ram: 512, vcpus: 1, disk: 1 })
    expect(byName['m1.xlarge']).toMatchObject({ ram: 16384, vcpus: 8, disk: 160 })
    const show = await call(admin, 'GET', `${r1}/flavors/2`)
    expect(show.body.flavor.name).toBe('m1.small')
  })

  it('sees capacity of every cell of the tree, aggregated upward', async () => {
    const reports = await waitFor('leaf reports', async () => {
      const rs = fed.api.tree.reports()
      return rs.some((c) => c.path === 'api!region-one!dc2') && rs.some((c) => c.path === 'api!region-two') ? rs : undefined
    })
    const byPath = new Map(reports.map((c) => [c.path, c]))
    const dc1 = byPath.get('api!region-one!dc1')
    const dc2 = byPath.get('api!region-one!dc2')
    const r1agg = byPath.get('api!region-one')
    expect(dc1?.hostsTotal).toBe(4)
    expect(dc2?.hostsTotal).toBe(4)
    expect(r1agg?.hostsTotal).toBe(8)
    expect(r1agg?.ramTotalMb).toBeCloseTo((dc1?.ramTotalMb ?? 0) + (dc2?.ramTotalMb ?? 0))
    // m1.tiny fits host by host; the region's count is the sum of its datacenters'.
    expect(dc1?.flavorFits['1']?.count).toBeGreaterThan(0)
    expect(r1agg?.flavorFits['1']?.count).toBe((dc1?.flavorFits['1']?.count ?? 0) + (dc2?.flavorFits['1']?.count ?? 0))
  })

  it.each([
    ['region-one', 'r1-'],
    ['region-two', 'r2-'],
  ])('boots a server to ACTIVE in %s with a host of that region', async (region, prefix) => {
    const url = region === 'region-one' ? r1 : r2
    const images = await call(admin, 'GET', `${endpoint(admin, 'image', region)}/v2/images?name=cirros`)
    expect(images.status).toBe(200)
    const imageRef = images.body.images[0].id as string
    const t0 = Date.now()
    const res = await call(admin, 'POST', `${url}/servers`, { server: { name: `vm-${region}`, imageRef, flavorRef: '1', min_count: 1, max_count: 1 } })
    expect(res.status).toBe(202)
    expect(res.body.server.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(res.body.server.adminPass).toEqual(expect.any(String))
    const id = res.body.server.id as string
    const server = await waitForStatus(admin, url, id, 'ACTIVE')
    process.stdout.write(`embedded POST->ACTIVE ${region}: ${Date.now() - t0} ms\n`)
    expect(server['OS-EXT-SRV-ATTR:host']).toMatch(new RegExp(`^${prefix}`))
    expect(server['OS-EXT-STS:power_state']).toBe(1)
    expect(server['OS-EXT-STS:vm_state']).toBe('active')
    expect(server.flavor.id).toBe('1')
    expect(server.image.id).toBe(imageRef)
    // The guest really runs on that host's hypervisor.
    const info = await fed.driverOf(server['OS-EXT-SRV-ATTR:host'])?.getInfo(id)
    expect(info?.powerState).toBe(1)
    servers[region] = id
  })

  it('lists each region only through its own endpoint, and all through the global one', async () => {
    const one = await call(admin, 'GET', `${r1}/servers`)
    const two = await call(admin, 'GET', `${r2}/servers/detail`)
    const all = await call(admin, 'GET', `${global}/servers`)
    expect(one.body.servers.map((s: any) => s.id)).toEqual([servers['region-one']])
    expect(two.body.servers.map((s: any) => s.id)).toEqual([servers['region-two']])
    expect(two.body.servers[0].status).toBe('ACTIVE')
    expect(new Set(all.body.servers.map((s: any) => s.id))).toEqual(new Set(Object.values(servers)))
  })

  it('rejects a bad request with a 400 in Nova’s body shape and creates nothing', async () => {
    const before = await call(admin, 'GET', `${global}/servers`)
    const noFlavor = await call(admin, 'POST', `${r1}/servers`, { server: { name: 'bad', imageRef: 'x', flavorRef: '999' } })
    expect(noFlavor.status).toBe(400)
    expect(noFlavor.body.badRequest.code).toBe(400)
    const malformed = await call(admin, 'POST', `${r1}/servers`, '{not json')
    expect(malformed.status).toBe(400)
    const unauth = await call(undefined, 'GET', `${r1}/servers`)
    expect(unauth.status).toBe(401)
    const after = await call(admin, 'GET', `${global}/servers`)
    expect(after.body.servers.length).toBe(before.body.servers.length)
  })

  it('deletes a server: 204, then 404, and the guest is gone from the hypervisor', async () => {
    const id = servers['region-two']!
    const show = await call(admin, 'GET', `${r2}/servers/${id}`)
    const host = show.body.server['OS-EXT-SRV-ATTR:host'] as string
    const del = await call(admin, 'DELETE', `${r2}/servers/${id}`)
    expect(del.status).toBe(204)
    await waitFor('server gone', async () => ((await call(admin, 'GET', `${r2}/servers/${id}`)).status === 404 ? true : undefined))
    expect(await fed.driverOf(host)?.listInstances()).not.toContain(id)
    await waitFor('index updated', async () => {
      const list = await call(admin, 'GET', `${global}/servers`)
      return list.body.servers.some((s: any) => s.id === id) ? undefined : true
    })
  })

  it('keeps everything across a restart (instances, flavors, users)', async () => {
    const id = servers['region-one']!
    await fed.stop()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    const url = endpoint(admin, 'compute', 'region-one')
    const server = await waitForStatus(admin, url, id, 'ACTIVE')
    expect(server['OS-EXT-SRV-ATTR:host']).toMatch(/^r1-/)
    // libvirt's test driver forgets its guests with the process: compute recreates them at start.
    const info = await fed.driverOf(server['OS-EXT-SRV-ATTR:host'])?.getInfo(id)
    expect(info?.powerState).toBe(1)
    const flavors = await call(admin, 'GET', `${url}/flavors`)
    expect(flavors.body.flavors).toHaveLength(5)
  })
})
