import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Reply, Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const NOVA_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/
const R1_HOSTS = ['r1-dc1-c1', 'r1-dc1-c2', 'r1-dc1-c3', 'r1-dc1-c4', 'r1-dc2-c1', 'r1-dc2-c2', 'r1-dc2-c3', 'r1-dc2-c4']
const R2_HOSTS = ['r2-c1', 'r2-c2', 'r2-c3', 'r2-c4']
const ALL_HOSTS = [...R1_HOSTS, ...R2_HOSTS]

/** Nova's detailed hypervisor keys at 2.1 (Tempest's strict schema). */
const DETAIL_KEYS_21 = [
  'cpu_info', 'current_workload', 'disk_available_least', 'free_disk_gb', 'free_ram_mb', 'host_ip', 'hypervisor_hostname',
  'hypervisor_type', 'hypervisor_version', 'id', 'local_gb', 'local_gb_used', 'memory_mb', 'memory_mb_used', 'running_vms',
  'service', 'state', 'status', 'vcpus', 'vcpus_used',
].sort()

/** Hypervisors, compute services, availability zones and aggregates over the whole tree. */
describe('compute admin API: hypervisors, services, availability zones', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let user: Session
  let global: string
  let r2: string
  let imageRef: string

  const get = (url: string, mv?: string, s: Session = admin): Promise<Reply> =>
    call(s, 'GET', url, undefined, mv === undefined ? {} : { 'OpenStack-API-Version': `compute ${mv}` })
  const put = (url: string, body: unknown, mv: string): Promise<Reply> => call(admin, 'PUT', url, body, { 'OpenStack-API-Version': `compute ${mv}` })
  const serviceOf = async (host: string): Promise<any> =>
    (await get(`${global}/os-services?host=${host}&binary=nova-compute`, '2.53')).body.services[0]
  const regionTwo = () => fed.api.tree.regionAggregates('region-two')[0]

  beforeAll(async () => {
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '300'
    cfg = embeddedConfig()
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    global = `${fed.api.urls.compute}/v2.1`
    r2 = endpoint(admin, 'compute', 'region-two')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    const identity = `${fed.api.urls.identity}/v3`
    const project = await call(admin, 'POST', `${identity}/projects`, { project: { name: 'ops-p', domain_id: 'default' } })
    const u = await call(admin, 'POST', `${identity}/users`, { user: { name: 'ops-u', password: 'pw-ops', domain_id: 'default' } })
    const roles = await call(admin, 'GET', `${identity}/roles?name=member`)
    const put204 = await call(admin, 'PUT', `${identity}/projects/${project.body.project.id}/users/${u.body.user.id}/roles/${roles.body.roles[0].id}`)
    expect(put204.status).toBe(204)
    user = await login(fed.api.urls.identity, 'ops-u', 'pw-ops', 'ops-p')
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('lists the 12 hypervisors of the 3 leaves with integer ids, stable and unique, before 2.53', async () => {
    const first = await get(`${global}/os-hypervisors`)
    expect(first.status).toBe(200)
    const hvs = first.body.hypervisors as any[]
    expect(hvs.map((h) => h.hypervisor_hostname).sort()).toEqual([...ALL_HOSTS].sort())
    for (const h of hvs) {
      expect(Object.keys(h).sort()).toEqual(['hypervisor_hostname', 'id', 'state', 'status'])
      expect(Number.isInteger(h.id)).toBe(true)
      expect(h).toMatchObject({ state: 'up', status: 'enabled' })
    }
    expect(new Set(hvs.map((h) => h.id)).size).toBe(12)
    const again = await get(`${global}/os-hypervisors`)
    expect(again.body.hypervisors).toEqual(hvs)
    const r2List = await get(`${r2}/os-hypervisors`)
    expect(r2List.body.hypervisors.map((h: any) => h.hypervisor_hostname).sort()).toEqual(R2_HOSTS)
    expect(r2List.body.hypervisors.map((h: any) => h.id)).toEqual(hvs.filter((h) => h.hypervisor_hostname.startsWith('r2-')).map((h) => h.id))
  })

  it('shows details in the shape of each microversion (2.1, 2.28, 2.53)', async () => {
    const d21 = await get(`${global}/os-hypervisors/detail`)
    const h = d21.body.hypervisors.find((x: any) => x.hypervisor_hostname === 'r1-dc1-c3')
    expect(Object.keys(h).sort()).toEqual(DETAIL_KEYS_21)
    expect(h).toMatchObject({ vcpus: 32, memory_mb: 131072, local_gb: 2000, host_ip: '127.0.0.1', state: 'up', status: 'enabled' })
    expect(typeof h.cpu_info).toBe('string')
    expect(Object.keys(h.service).sort()).toEqual(['disabled_reason', 'host', 'id'])
    expect(h.service).toMatchObject({ host: 'r1-dc1-c3', disabled_reason: null })
    expect(Number.isInteger(h.service.id)).toBe(true)
    expect(h.free_ram_mb).toBe(h.memory_mb - h.memory_mb_used)

    const d228 = await get(`${global}/os-hypervisors/detail`, '2.28')
    expect(typeof d228.body.hypervisors[0].cpu_info).toBe('object')

    const d253 = await get(`${global}/os-hypervisors/detail`, '2.53')
    const u = d253.body.hypervisors.find((x: any) => x.hypervisor_hostname === 'r1-dc1-c3')
    expect(u.id).toMatch(UUID)
    expect(u.service.id).toMatch(UUID)
    expect(u.service.id).toBe((await serviceOf('r1-dc1-c3')).id)

    const show21 = await get(`${global}/os-hypervisors/${h.id}`)
    expect(show21.status).toBe(200)
    expect(show21.body.hypervisor).toEqual(h)
    const show253 = await get(`${global}/os-hypervisors/${u.id}`, '2.53')
    expect(show253.body.hypervisor).toEqual(u)
  })

  it('answers unknown or malformed hypervisor ids as Nova does', async () => {
    expect((await get(`${global}/os-hypervisors/999999`)).status).toBe(404)
    const byName = await get(`${global}/os-hypervisors/r2-c1`)
    expect(byName.status).toBe(404)
    expect(byName.body.itemNotFound.message).toBe("Hypervisor with ID 'r2-c1' could not be found.")
    const notUuid = await get(`${global}/os-hypervisors/12`, '2.53')
    expect(notUuid.status).toBe(400)
    expect(notUuid.body.badRequest.message).toBe('Invalid uuid 12')
    expect((await get(`${global}/os-hypervisors/00000000-0000-4000-8000-000000000000`, '2.53')).status).toBe(404)
    // A region endpoint does not see another region's hypervisors.
    const r1Id = (await get(`${global}/os-hypervisors`)).body.hypervisors.find((x: any) => x.hypervisor_hostname === 'r1-dc1-c1').id
    expect((await get(`${r2}/os-hypervisors/${r1Id}`)).status).toBe(404)
  })

  it('pages with limit and marker from 2.33, and refuses an unknown marker', async () => {
    const p1 = await get(`${global}/os-hypervisors?limit=5`, '2.33')
    expect(p1.body.hypervisors).toHaveLength(5)
    expect(p1.body.hypervisors_links[0].rel).toBe('next')
    const marker = p1.body.hypervisors[4].id
    expect(p1.body.hypervisors_links[0].href).toContain(`marker=${marker}`)
    const p2 = await get(`${global}/os-hypervisors?limit=5&marker=${marker}`, '2.33')
    const p3 = await get(`${global}/os-hypervisors?limit=5&marker=${p2.body.hypervisors[4].id}`, '2.33')
    expect(p3.body.hypervisors).toHaveLength(2)
    expect(p3.body.hypervisors_links).toBeUndefined()
    const names = [...p1.body.hypervisors, ...p2.body.hypervisors, ...p3.body.hypervisors].map((h: any) => h.hypervisor_hostname)
    expect(names.sort()).toEqual([...ALL_HOSTS].sort())
    expect((await get(`${global}/os-hypervisors?marker=424242`, '2.33')).status).toBe(400)
    expect((await get(`${global}/os-hypervisors?limit=-1`, '2.33')).status).toBe(400)
    // Before 2.33 paging parameters are ignored.
    expect((await get(`${global}/os-hypervisors?limit=5`)).body.hypervisors).toHaveLength(12)
  })

  it('sums statistics over every hypervisor, and asks a host for its uptime', async () => {
    const stats = await get(`${global}/os-hypervisors/statistics`)
    expect(stats.status).toBe(200)
    const detail = (await get(`${global}/os-hypervisors/detail`)).body.hypervisors as any[]
    const sum = (k: string): number => detail.reduce((a, h) => a + h[k], 0)
    expect(stats.body.hypervisor_statistics).toMatchObject({ count: 12, vcpus: sum('vcpus'), memory_mb: sum('memory_mb'), local_gb: sum('local_gb'), running_vms: sum('running_vms') })
    expect(Object.keys(stats.body.hypervisor_statistics)).toHaveLength(12)
    const uptime = await get(`${global}/os-hypervisors/${detail[0].id}/uptime`)
    expect(uptime.status).toBe(200)
    expect(uptime.body.hypervisor.id).toBe(detail[0].id)
    expect(uptime.body.hypervisor.hypervisor_hostname).toBe(detail[0].hypervisor_hostname)
    expect(uptime.body.hypervisor.uptime).toMatch(/^ \d\d:\d\d:\d\d up .*load average: \d+\.\d\d, \d+\.\d\d, \d+\.\d\d$/)
    expect((await get(`${global}/os-hypervisors/424242/uptime`)).status).toBe(404)
  })

  it('searches by hostname and lists hosted servers (routes before 2.53, query parameters from 2.53)', async () => {
    const boot = await call(admin, 'POST', `${r2}/servers`, { server: { name: 'hv-probe', imageRef, flavorRef: '1' } })
    expect(boot.status).toBe(202)
    const server = await waitForStatus(admin, r2, boot.body.server.id, 'ACTIVE')
    const host = server['OS-EXT-SRV-ATTR:host'] as string
    const search = await get(`${global}/os-hypervisors/r2-c/search`)
    expect(search.body.hypervisors.map((h: any) => h.hypervisor_hostname).sort()).toEqual(R2_HOSTS)
    expect(search.body.hypervisors[0].servers).toBeUndefined()
    const withServers = await get(`${global}/os-hypervisors/${host}/servers`)
    expect(withServers.body.hypervisors).toHaveLength(1)
    expect(withServers.body.hypervisors[0].servers).toEqual([{ name: 'hv-probe', uuid: server.id }])
    expect((await get(`${global}/os-hypervisors/no-such-host/search`)).status).toBe(404)
    expect((await get(`${global}/os-hypervisors/r2-c/search`, '2.53')).status).toBe(404)

    const q = await get(`${global}/os-hypervisors/detail?hypervisor_hostname_pattern=${host}&with_servers=true`, '2.53')
    expect(q.body.hypervisors).toHaveLength(1)
    expect(q.body.hypervisors[0].servers).toEqual([{ name: 'hv-probe', uuid: server.id }])
    expect(q.body.hypervisors[0].running_vms).toBeGreaterThanOrEqual(1)
    const show = await get(`${global}/os-hypervisors/${q.body.hypervisors[0].id}?with_servers=1`, '2.53')
    expect(show.body.hypervisor.servers).toEqual([{ name: 'hv-probe', uuid: server.id }])
    expect((await get(`${global}/os-hypervisors?hypervisor_hostname_pattern=nothing-like-it`, '2.53')).status).toBe(404)
    expect((await get(`${global}/os-hypervisors?hypervisor_hostname_pattern=r2&limit=2`, '2.53')).status).toBe(400)
    expect((await get(`${global}/os-hypervisors?with_servers=maybe`, '2.53')).status).toBe(400)
    expect((await call(admin, 'DELETE', `${r2}/servers/${server.id}`)).status).toBe(204)
  })

  it('keeps non-admins out of the admin APIs but shows them the zones', async () => {
    for (const path of ['os-hypervisors', 'os-hypervisors/detail', 'os-hypervisors/statistics', 'os-services', 'os-availability-zone/detail', 'os-aggregates']) {
      const res = await get(`${global}/${path}`, undefined, user)
      expect(res.status, path).toBe(403)
      expect(res.body.forbidden.message).toContain("Policy doesn't allow")
    }
    const zones = await get(`${global}/os-availability-zone`, undefined, user)
    expect(zones.status).toBe(200)
    expect(zones.body.availabilityZoneInfo.map((z: any) => z.zoneName).sort()).toEqual(['dc1', 'dc2', 'region-two-az'])
  })

  it('lists compute services with the fields of each microversion and filters them', async () => {
    const s21 = await get(`${global}/os-services`)
    expect(s21.status).toBe(200)
    expect(s21.body.services).toHaveLength(12)
    const one = s21.body.services.find((s: any) => s.host === 'r2-c2')
    expect(Object.keys(one).sort()).toEqual(['binary', 'disabled_reason', 'host', 'id', 'state', 'status', 'updated_at', 'zone'])
    expect(one).toMatchObject({ binary: 'nova-compute', zone: 'region-two-az', status: 'enabled', state: 'up', disabled_reason: null })
    expect(one.updated_at).toMatch(NOVA_TIME)
    expect(Number.isInteger(one.id)).toBe(true)
    expect(new Set(s21.body.services.map((s: any) => s.id)).size).toBe(12)
    const s211 = await get(`${global}/os-services?host=r2-c2`, '2.11')
    expect(s211.body.services).toHaveLength(1)
    expect(s211.body.services[0].forced_down).toBe(false)
    expect((await serviceOf('r2-c2')).id).toMatch(UUID)
    expect((await get(`${global}/os-services?binary=nova-compute`)).body.services).toHaveLength(12)
    expect((await get(`${global}/os-services?binary=nova-scheduler`)).body.services).toEqual([])
    expect((await get(`${r2}/os-services`)).body.services.map((s: any) => s.host).sort()).toEqual(R2_HOSTS)
  })

  it('disables and forces down services (2.53): ComputeFilter skips them and capacity drops at once', async () => {
    const before = regionTwo()?.hostsUp
    expect(before).toBe(4)
    for (const host of ['r2-c1', 'r2-c2', 'r2-c3']) {
      const svc = await serviceOf(host)
      const res = await put(`${global}/os-services/${svc.id}`, { status: 'disabled', disabled_reason: 'maintenance' }, '2.53')
      expect(res.status).toBe(200)
      expect(Object.keys(res.body.service).sort()).toEqual(['binary', 'disabled_reason', 'forced_down', 'host', 'id', 'state', 'status', 'updated_at', 'zone'])
      expect(res.body.service).toMatchObject({ id: svc.id, host, status: 'disabled', disabled_reason: 'maintenance', forced_down: false })
    }
    await waitFor('region-two capacity to drop', async () => (regionTwo()?.hostsUp === 1 ? true : undefined), 5000)
    const hv = (await get(`${global}/os-hypervisors/detail?hypervisor_hostname_pattern=r2-c1`, '2.53')).body.hypervisors[0]
    expect(hv.status).toBe('disabled')
    expect(hv.service.disabled_reason).toBe('maintenance')
    for (const name of ['pinned-a', 'pinned-b']) {
      const boot = await call(admin, 'POST', `${r2}/servers`, { server: { name, imageRef, flavorRef: '1' } })
      const s = await waitForStatus(admin, r2, boot.body.server.id, 'ACTIVE')
      expect(s['OS-EXT-SRV-ATTR:host']).toBe('r2-c4')
    }
    // Forced down: the last enabled host goes down too.
    const last = await serviceOf('r2-c4')
    const down = await put(`${global}/os-services/${last.id}`, { forced_down: true }, '2.53')
    expect(down.body.service).toMatchObject({ forced_down: true, state: 'down', status: 'enabled' })
    await waitFor('region-two without hosts', async () => (regionTwo()?.hostsUp === 0 ? true : undefined), 5000)
    const zones = await get(`${global}/os-availability-zone`)
    expect(zones.body.availabilityZoneInfo.find((z: any) => z.zoneName === 'region-two-az').zoneState.available).toBe(true)
    // Back to normal.
    expect((await put(`${global}/os-services/${last.id}`, { forced_down: false }, '2.53')).body.service.state).toBe('up')
    for (const host of ['r2-c1', 'r2-c2', 'r2-c3']) {
      const res = await put(`${global}/os-services/${(await serviceOf(host)).id}`, { status: 'enabled' }, '2.53')
      expect(res.body.service).toMatchObject({ status: 'enabled', disabled_reason: null })
    }
    await waitFor('region-two back', async () => (regionTwo()?.hostsUp === 4 ? true : undefined), 5000)
  })

  it('refuses bad service updates with 400/404 and changes nothing', async () => {
    const svc = await serviceOf('r2-c3')
    const url = `${global}/os-services/${svc.id}`
    const cases: Array<[unknown, number]> = [
      [{ status: 'sideways' }, 400],
      [{ status: 'enabled', disabled_reason: 'why' }, 400],
      [{}, 400],
      [{ disabled_reason: 'only a reason' }, 400],
      [{ status: 'disabled', extra: 1 }, 400],
      [{ forced_down: 'perhaps' }, 400],
      [{ status: 'disabled', disabled_reason: 'x'.repeat(256) }, 400],
    ]
    for (const [body, status] of cases) expect((await put(url, body, '2.53')).status, JSON.stringify(body)).toBe(status)
    expect((await put(`${global}/os-services/not-a-uuid`, { status: 'disabled' }, '2.53')).status).toBe(400)
    expect((await put(`${global}/os-services/00000000-0000-4000-8000-000000000000`, { status: 'disabled' }, '2.53')).status).toBe(404)
    expect((await put(`${global}/os-services/disable`, { host: 'r2-c3', binary: 'nova-compute' }, '2.53')).status).toBe(400)
    expect(await serviceOf('r2-c3')).toMatchObject({ status: 'enabled', forced_down: false, disabled_reason: null })
  })

  it('keeps the pre-2.53 actions: enable, disable, disable-log-reason, force-down (2.11)', async () => {
    const base = `${global}/os-services`
    const dis = await put(`${base}/disable`, { host: 'r1-dc2-c4', binary: 'nova-compute' }, '2.1')
    expect(dis.status).toBe(200)
    expect(dis.body).toEqual({ service: { host: 'r1-dc2-c4', binary: 'nova-compute', status: 'disabled' } })
    const why = await put(`${base}/disable-log-reason`, { host: 'r1-dc2-c4', binary: 'nova-compute', disabled_reason: 'disk swap' }, '2.1')
    expect(why.body).toEqual({ service: { host: 'r1-dc2-c4', binary: 'nova-compute', status: 'disabled', disabled_reason: 'disk swap' } })
    expect(await serviceOf('r1-dc2-c4')).toMatchObject({ status: 'disabled', disabled_reason: 'disk swap' })
    expect((await put(`${base}/disable-log-reason`, { host: 'r1-dc2-c4', binary: 'nova-compute' }, '2.1')).status).toBe(400)
    expect((await put(`${base}/force-down`, { host: 'r1-dc2-c4', binary: 'nova-compute', forced_down: true }, '2.1')).status).toBe(400)
    expect((await put(`${base}/force-down`, { host: 'r1-dc2-c4', binary: 'nova-compute' }, '2.11')).status).toBe(400)
    const fd = await put(`${base}/force-down`, { host: 'r1-dc2-c4', binary: 'nova-compute', forced_down: true }, '2.11')
    expect(fd.body).toEqual({ service: { host: 'r1-dc2-c4', binary: 'nova-compute', forced_down: true } })
    expect((await put(`${base}/force-down`, { host: 'r1-dc2-c4', binary: 'nova-compute', forced_down: false }, '2.11')).status).toBe(200)
    expect((await put(`${base}/enable`, { host: 'r1-dc2-c4', binary: 'nova-compute' }, '2.1')).body.service.status).toBe('enabled')
    expect(await serviceOf('r1-dc2-c4')).toMatchObject({ status: 'enabled', disabled_reason: null, forced_down: false })
    expect((await put(`${base}/reboot`, { host: 'r1-dc2-c4', binary: 'nova-compute' }, '2.1')).status).toBe(404)
    expect((await put(`${base}/disable`, { host: 'nowhere', binary: 'nova-compute' }, '2.1')).status).toBe(404)
    expect((await put(`${base}/disable`, { host: 'r1-dc2-c4', binary: 'nova-scheduler' }, '2.1')).status).toBe(400)
    expect((await put(`${base}/disable`, { host: 'r1-dc2-c4' }, '2.1')).status).toBe(400)
  })

  it('deletes a compute service only when its host holds no instance', async () => {
    const boot = await call(admin, 'POST', `${r2}/servers`, { server: { name: 'blocker', imageRef, flavorRef: '1' } })
    const s = await waitForStatus(admin, r2, boot.body.server.id, 'ACTIVE')
    const busy = await serviceOf(s['OS-EXT-SRV-ATTR:host'])
    const refused = await call(admin, 'DELETE', `${global}/os-services/${busy.id}`, undefined, { 'OpenStack-API-Version': 'compute 2.53' })
    expect(refused.status).toBe(409)
    expect(refused.body.conflictingRequest.message).toContain('hosting instances')
    expect((await call(admin, 'DELETE', `${global}/os-services/abc`)).status).toBe(400)
    expect((await call(admin, 'DELETE', `${global}/os-services/424242`)).status).toBe(404)
    const idle = R2_HOSTS.find((h) => h !== busy.host) as string
    const victim = await serviceOf(idle)
    const legacyId = (await get(`${global}/os-services?host=${idle}`)).body.services[0].id
    expect((await call(admin, 'DELETE', `${global}/os-services/${legacyId}`)).status).toBe(204)
    expect((await put(`${global}/os-services/${victim.id}`, { status: 'disabled' }, '2.53')).status).toBe(404)
    // The compute is still running: it registers again, with a new service uuid, as Nova's does.
    const back = await waitFor('the compute to register again', async () => {
      const svc = await serviceOf(idle)
      return svc !== undefined && svc.id !== victim.id ? svc : undefined
    }, 10_000)
    expect(back.status).toBe('enabled')
    expect((await call(admin, 'DELETE', `${r2}/servers/${s.id}`)).status).toBe(204)
  })

  it('describes availability zones with their hosts (detail, admin) and zones with every service disabled', async () => {
    const detail = await get(`${global}/os-availability-zone/detail`)
    expect(detail.status).toBe(200)
    const dc1 = detail.body.availabilityZoneInfo.find((z: any) => z.zoneName === 'dc1')
    expect(Object.keys(dc1.hosts).sort()).toEqual(R1_HOSTS.filter((h) => h.includes('dc1')))
    expect(dc1.hosts['r1-dc1-c1']['nova-compute']).toMatchObject({ available: true, active: true })
    expect(dc1.hosts['r1-dc1-c1']['nova-compute'].updated_at).toMatch(NOVA_TIME)
    const dc2Hosts = R1_HOSTS.filter((h) => h.includes('dc2'))
    const ids = await Promise.all(dc2Hosts.map(async (h) => (await serviceOf(h)).id as string))
    for (const id of ids) expect((await put(`${global}/os-services/${id}`, { status: 'disabled' }, '2.53')).status).toBe(200)
    const list = await get(`${global}/os-availability-zone`)
    expect(list.body.availabilityZoneInfo.at(-1)).toEqual({ zoneName: 'dc2', zoneState: { available: false }, hosts: null })
    const d2 = await get(`${global}/os-availability-zone/detail`)
    expect(d2.body.availabilityZoneInfo.find((z: any) => z.zoneName === 'dc2')).toEqual({ zoneName: 'dc2', zoneState: { available: false }, hosts: null })
    for (const id of ids) await put(`${global}/os-services/${id}`, { status: 'enabled' }, '2.53')
    const r2Zones = await get(`${r2}/os-availability-zone`)
    expect(r2Zones.body.availabilityZoneInfo).toEqual([{ zoneName: 'region-two-az', zoneState: { available: true }, hosts: null }])
  })

  it('shows the zones as read-only aggregates', async () => {
    const list = await get(`${global}/os-aggregates`)
    expect(list.status).toBe(200)
    const aggs = list.body.aggregates as any[]
    expect(aggs.map((a) => a.name).sort()).toEqual(['dc1', 'dc2', 'region-two-az'])
    const r2agg = aggs.find((a) => a.name === 'region-two-az')
    expect(r2agg).toMatchObject({ availability_zone: 'region-two-az', metadata: { availability_zone: 'region-two-az' }, deleted: false, deleted_at: null })
    expect(r2agg.hosts.sort()).toEqual(R2_HOSTS)
    expect(Number.isInteger(r2agg.id)).toBe(true)
    expect(r2agg.uuid).toBeUndefined()
    const show = await get(`${global}/os-aggregates/${r2agg.id}`, '2.41')
    expect(show.body.aggregate.uuid).toMatch(UUID)
    expect((await get(`${global}/os-aggregates/${r2agg.id}`, '2.41')).body.aggregate.uuid).toBe(show.body.aggregate.uuid)
    expect((await get(`${global}/os-aggregates/424242`)).status).toBe(404)
    // A zone's aggregate is read-only (the tree's configuration); aggregates created through the API are not.
    expect((await call(admin, 'POST', `${global}/os-aggregates/${r2agg.id}/action`, { add_host: { host: 'r1-dc1-c1' } })).status).toBe(501)
    expect((await call(admin, 'DELETE', `${global}/os-aggregates/${r2agg.id}`)).status).toBe(501)
    expect((await get(`${global}/os-aggregates`)).body.aggregates).toHaveLength(3)
  })
})
