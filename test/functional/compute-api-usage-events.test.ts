import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Reply, Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

const missing = '00000000-0000-4000-8000-000000000000'

/** Admin APIs: external events, usage, the usage audit log, diagnostics and topology. */
describe('compute API: external events, usage, audit log, diagnostics, topology', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let member: ProjectUser
  let global: string
  let nova: string
  let serverId: string
  let r2Server: string

  const fault = (r: Reply, status: number, name: string): void => {
    expect(r.status).toBe(status)
    expect(Object.keys(r.body)).toEqual([name])
    expect(r.body[name].code).toBe(status)
  }

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    member = await createProjectUser(fed.api.urls.identity, admin, 'usage-member')
    global = `${fed.api.urls.compute}/v2.1`
    nova = endpoint(member.session, 'compute', 'region-one')
    const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    const boot = async (url: string, name: string): Promise<string> => {
      const r = await call(member.session, 'POST', `${url}/servers`, { server: { name, imageRef, flavorRef: '1' } })
      expect(r.status).toBe(202)
      await waitForStatus(member.session, url, r.body.server.id, 'ACTIVE')
      return r.body.server.id
    }
    serverId = await boot(nova, 'u1')
    r2Server = await boot(endpoint(member.session, 'compute', 'region-two'), 'u2')
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('accepts external events for instances anywhere in the tree: 200, 207 with per-event codes, 404', async () => {
    const post = (events: unknown, v = '2.93', s: Session = admin): Promise<Reply> => call(s, 'POST', `${global}/os-server-external-events`, { events }, mv(v))
    const all = await post([
      { name: 'network-changed', server_uuid: serverId },
      { name: 'power-update', server_uuid: r2Server, tag: 'POWER_OFF' },
    ])
    expect(all.status).toBe(200)
    expect(all.body.events).toEqual([
      { name: 'network-changed', server_uuid: serverId, status: 'completed', code: 200 },
      { name: 'power-update', server_uuid: r2Server, status: 'completed', tag: 'POWER_OFF', code: 200 },
    ])
    const some = await post([
      { name: 'network-vif-plugged', server_uuid: serverId, status: 'failed', tag: 'port-1' },
      { name: 'network-vif-plugged', server_uuid: missing },
    ])
    expect(some.status).toBe(207)
    expect(some.body.events.map((e: any) => e.code)).toEqual([200, 404])
    fault(await post([{ name: 'network-changed', server_uuid: missing }]), 404, 'itemNotFound')
    fault(await post([{ name: 'power-update', server_uuid: serverId, tag: 'POWER_ON' }], '2.75'), 400, 'badRequest')
    fault(await post([{ name: 'no-such-event', server_uuid: serverId }]), 400, 'badRequest')
    fault(await post([]), 400, 'badRequest')
    fault(await post([{ name: 'network-changed', server_uuid: serverId, extra: 1 }]), 400, 'badRequest')
    fault(await post([{ name: 'network-changed', server_uuid: serverId }], '2.93', member.session), 403, 'forbidden')
    // Acknowledged only: the servers are unchanged.
    expect((await call(member.session, 'GET', `${nova}/servers/${serverId}`)).body.server.status).toBe('ACTIVE')
  })

  it('reports usage per project, detailed and paged (2.40), and refuses bad periods', async () => {
    const start = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19)
    const end = new Date(Date.now() + 3_600_000).toISOString().slice(0, 19)
    const list = await call(admin, 'GET', `${global}/os-simple-tenant-usage?start=${start}&end=${end}&detailed=1`)
    expect(list.status).toBe(200)
    const mine = list.body.tenant_usages.find((t: any) => t.tenant_id === member.projectId)
    expect(mine.server_usages.map((s: any) => s.instance_id).sort()).toEqual([serverId, r2Server].sort())
    expect(mine.total_hours).toBeGreaterThan(0)
    expect(mine.total_vcpus_usage).toBeGreaterThan(0)
    expect(mine.server_usages[0]).toMatchObject({ tenant_id: member.projectId, flavor: 'm1.tiny', state: 'active', ended_at: null })
    const show = await call(member.session, 'GET', `${global}/os-simple-tenant-usage/${member.projectId}?start=${start}&end=${end}`)
    expect(show.status).toBe(200)
    expect(show.body.tenant_usage.server_usages).toHaveLength(2)
    // A region's endpoint counts its region only.
    const regional = await call(member.session, 'GET', `${nova}/os-simple-tenant-usage/${member.projectId}?start=${start}&end=${end}`)
    expect(regional.body.tenant_usage.server_usages.map((x: any) => x.instance_id)).toEqual([serverId])
    const paged = await call(admin, 'GET', `${global}/os-simple-tenant-usage?start=${start}&end=${end}&limit=1`, undefined, mv('2.40'))
    expect(paged.body.tenant_usages_links[0].rel).toBe('next')
    expect(paged.body.tenant_usages_links[0].href).toContain('marker=')
    fault(await call(admin, 'GET', `${global}/os-simple-tenant-usage?start=${end}&end=${start}`), 400, 'badRequest')
    fault(await call(admin, 'GET', `${global}/os-simple-tenant-usage?start=yesterday`), 400, 'badRequest')
    fault(await call(admin, 'GET', `${global}/os-simple-tenant-usage/?start=${start}&end=${end}`), 404, 'itemNotFound')
    fault(await call(member.session, 'GET', `${nova}/os-simple-tenant-usage`), 403, 'forbidden')
    fault(await call(member.session, 'GET', `${nova}/os-simple-tenant-usage/other-project`), 403, 'forbidden')
  })

  it('shows the usage audit log as Nova does with the audit off: every host not run', async () => {
    const log = await call(admin, 'GET', `${global}/os-instance_usage_audit_log`)
    expect(log.status).toBe(200)
    const body = log.body.instance_usage_audit_logs
    expect(body.num_hosts).toBe(12)
    expect(body).toMatchObject({ num_hosts_done: 0, num_hosts_not_run: 12, total_errors: 0, total_instances: 0, log: {}, overall_status: '0 of 12 hosts done. 0 errors.' })
    const at = await call(admin, 'GET', `${global}/os-instance_usage_audit_log/2020-03-15%2010:00:00`)
    expect(at.body.instance_usage_audit_log).toMatchObject({ period_beginning: '2020-02-01 00:00:00', period_ending: '2020-03-01 00:00:00' })
    fault(await call(admin, 'GET', `${global}/os-instance_usage_audit_log/not-a-date`), 400, 'badRequest')
    fault(await call(member.session, 'GET', `${nova}/os-instance_usage_audit_log`), 403, 'forbidden')
  })

  it('answers diagnostics from the owning compute host (2.48 shape), admin only', async () => {
    const diag = await call(admin, 'GET', `${global}/servers/${r2Server}/diagnostics`, undefined, mv('2.48'))
    expect(diag.status).toBe(200)
    expect(diag.body).toMatchObject({ state: 'running', num_cpus: 1, memory_details: { maximum: 512 }, driver: 'libvirt' })
    expect(diag.body.cpu_details).toHaveLength(1)
    const old = await call(admin, 'GET', `${global}/servers/${r2Server}/diagnostics`)
    expect(old.body).toMatchObject({ cpu0_time: 0, memory: 512 * 1024 })
    fault(await call(member.session, 'GET', `${nova}/servers/${serverId}/diagnostics`), 403, 'forbidden')
    fault(await call(admin, 'GET', `${global}/servers/${missing}/diagnostics`), 404, 'itemNotFound')
  })

  it('shows an empty topology from 2.78, 404 before', async () => {
    const topo = await call(member.session, 'GET', `${nova}/servers/${serverId}/topology`, undefined, mv('2.78'))
    expect(topo.status).toBe(200)
    expect(topo.body).toEqual({ nodes: [], pagesize_kb: null })
    fault(await call(member.session, 'GET', `${nova}/servers/${serverId}/topology`, undefined, mv('2.77')), 404, 'itemNotFound')
    fault(await call(member.session, 'GET', `${nova}/servers/${missing}/topology`, undefined, mv('2.78')), 404, 'itemNotFound')
  })
})
