import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser } from '../helpers/project-user.js'

/**
 * The cell administration API's reads the dashboard is built on (cell totals, the federation-wide
 * instance list with marker paging, recent builds, outbox lag), the identity API under /identity on
 * the compute listener, and the dashboard's static page, against an embedded federation.
 */
describe('admin API reads for the dashboard', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let member: ProjectUser
  let api: string
  const ids: string[] = []

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    member = await createProjectUser(fed.api.urls.identity, admin, 'dashboard-reads-member')
    api = `${fed.api.urls.compute}/cell-admin/v1`
    const compute = endpoint(admin, 'compute', 'federation')
    const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    for (const name of ['dash-a', 'dash-b', 'dash-c']) {
      const res = await call(admin, 'POST', `${compute}/servers`, { server: { name, imageRef, flavorRef: '1' } })
      expect(res.status).toBe(202)
      ids.push((await waitForStatus(admin, compute, res.body.server.id, 'ACTIVE')).id)
    }
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('gives each cell its capacity totals beside the free figures', async () => {
    const cells = (await call(admin, 'GET', `${api}/cells`)).body.cells
    const leaf = cells.find((c: any) => c.path === 'api!region-one!dc1')
    expect(leaf.total_ram_mb).toBeGreaterThan(0)
    expect(leaf.total_vcpus).toBeGreaterThanOrEqual(leaf.free_vcpus)
    expect(leaf.total_disk_gb).toBeGreaterThanOrEqual(leaf.free_disk_gb)
  })

  it('pages the instances newest first by marker, without overlap, with cell path and host', async () => {
    const first = await call(admin, 'GET', `${api}/instances?limit=2&name=dash-`)
    expect(first.status).toBe(200)
    expect(first.body.instances.map((i: any) => i.name)).toEqual(['dash-c', 'dash-b'])
    expect(first.body.next_marker).toBe(ids[1])
    const second = await call(admin, 'GET', `${api}/instances?limit=2&name=dash-&marker=${first.body.next_marker}`)
    expect(second.body.instances.map((i: any) => i.uuid)).toEqual([ids[0]])
    expect(second.body.next_marker).toBeNull()
    const a = second.body.instances[0]
    expect(a).toMatchObject({ name: 'dash-a', status: 'ACTIVE' })
    expect(a.cell_path).toMatch(/^api!region-/)
    expect(typeof a.host).toBe('string')
  })

  it('filters by status, cell subtree and host, and takes % and _ in a name literally', async () => {
    const all = (await call(admin, 'GET', `${api}/instances?name=dash-`)).body.instances
    const one = all[0]
    const byCell = (await call(admin, 'GET', `${api}/instances?cell=${one.cell_path}`)).body.instances
    expect(byCell.map((i: any) => i.uuid)).toContain(one.uuid)
    expect(byCell.every((i: any) => i.cell_path === one.cell_path)).toBe(true)
    const region = one.cell_path.split('!').slice(0, 2).join('!')
    expect((await call(admin, 'GET', `${api}/instances?cell=${region}`)).body.instances.map((i: any) => i.uuid)).toContain(one.uuid)
    expect((await call(admin, 'GET', `${api}/instances?host=${one.host}`)).body.instances.every((i: any) => i.host === one.host)).toBe(true)
    expect((await call(admin, 'GET', `${api}/instances?status=ERROR&name=dash-`)).body.instances).toEqual([])
    expect((await call(admin, 'GET', `${api}/instances?status=active&name=dash-`)).body.instances).toHaveLength(3)
    expect((await call(admin, 'GET', `${api}/instances?name=dash%25`)).body.instances).toEqual([])
    expect((await call(admin, 'GET', `${api}/instances?name=dash_`)).body.instances).toEqual([])
  })

  it.each([
    ['limit=0', /limit/],
    ['limit=1001', /limit/],
    ['limit=x', /limit/],
    ['marker=not-a-uuid', /marker/],
    ['marker=00000000-0000-4000-8000-000000000000', /marker/],
    ['status=NOPE', /status/],
    ['cell=Bad!Path', /cell/],
    ['limit=1&limit=2', /limit/],
    ['extra=1', /extra|Unrecognized/i],
  ])('refuses GET /instances?%s with a 400 naming it', async (q, message) => {
    const res = await call(admin, 'GET', `${api}/instances?${q}`)
    expect(res.status).toBe(400)
    expect(res.body.error.message).toMatch(message)
  })

  it('lists recent builds placed, filtered by cell, and refuses a bad limit or an unknown cell', async () => {
    const all = (await call(admin, 'GET', `${api}/builds`)).body.builds
    expect(all.slice(0, 3).map((b: any) => b.instance_uuid)).toEqual([...ids].reverse())
    const b = all[0]
    expect(b).toMatchObject({ outcome: 'placed', reasons: [] })
    const region = b.cell_path.split('!').slice(0, 2).join('!')
    expect((await call(admin, 'GET', `${api}/builds?cell=${region}&limit=1`)).body.builds.map((x: any) => x.instance_uuid)).toEqual([b.instance_uuid])
    expect((await call(admin, 'GET', `${api}/builds?limit=0`)).status).toBe(400)
    expect((await call(admin, 'GET', `${api}/builds?cell=api!nowhere`)).status).toBe(404)
  })

  it('lists a build no cell could take as an error, with the reasons from the tree', async () => {
    const compute = endpoint(admin, 'compute', 'federation')
    const flavor = await call(admin, 'POST', `${compute}/flavors`, { flavor: { name: 'dashboard-huge', ram: 512, vcpus: 1, disk: 1_000_000 } })
    expect(flavor.status).toBe(200)
    const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    const res = await call(admin, 'POST', `${compute}/servers`, { server: { name: 'dash-huge', imageRef, flavorRef: flavor.body.flavor.id } })
    expect(res.status).toBe(202)
    await waitForStatus(admin, compute, res.body.server.id, 'ERROR')
    const latest = (await call(admin, 'GET', `${api}/builds?limit=1`)).body.builds[0]
    expect(latest).toMatchObject({ instance_uuid: res.body.server.id, outcome: 'error', cell_path: 'cell0', host: null })
    expect(latest.reasons.join('; ')).toMatch(/api!region-(one|two)/)
    const listed = (await call(admin, 'GET', `${api}/instances?name=dash-huge`)).body.instances
    expect(listed).toMatchObject([{ uuid: res.body.server.id, status: 'ERROR', cell_path: 'cell0' }])
  })

  it("answers a cell's outbox lag from the cell, and 400 for cell0, 404 for an unknown cell", async () => {
    const res = await call(admin, 'GET', `${api}/cells/api!region-one!dc1/outbox`)
    expect(res.status).toBe(200)
    expect(res.body.outbox).toMatchObject({ cell_path: 'api!region-one!dc1', error: null })
    expect(typeof res.body.outbox.pending).toBe('number')
    expect(res.body.outbox.oldest_age_s).toBeGreaterThanOrEqual(0)
    expect((await call(admin, 'GET', `${api}/cells/cell0/outbox`)).status).toBe(400)
    expect((await call(admin, 'GET', `${api}/cells/api!nowhere/outbox`)).status).toBe(404)
  })

  it.each(['/instances', '/builds', '/cells/api!region-one!dc1/outbox'])('refuses %s to a non-admin (403) and without a token (401)', async (path) => {
    const refused = await call(member.session, 'GET', `${api}${path}`)
    expect(refused.status).toBe(403)
    expect(refused.body.error.message).toMatch(/Policy doesn't allow/)
    expect((await call(undefined, 'GET', `${api}${path}`)).status).toBe(401)
  })

  it('serves the identity API under /identity on the compute listener, and the dashboard page', async () => {
    const res = await fetch(`${fed.api.urls.compute}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: 'secret-admin-pw' } } },
          scope: { project: { name: 'admin', domain: { name: 'Default' } } },
        },
      }),
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('x-subject-token')).toBeTruthy()
    const redirect = await fetch(`${fed.api.urls.compute}/dashboard`, { redirect: 'manual' })
    expect(redirect.status).toBe(301)
    expect(redirect.headers.get('location')).toBe('/dashboard/')
    const page = await fetch(`${fed.api.urls.compute}/dashboard/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/text\/html/)
    expect((await fetch(`${fed.api.urls.compute}/dashboard/assets/nothing.js`)).status).toBe(404)
  })
})
