import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, login, waitFor } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

const KEYS_21 = [
  'cores',
  'fixed_ips',
  'floating_ips',
  'id',
  'injected_file_content_bytes',
  'injected_file_path_bytes',
  'injected_files',
  'instances',
  'key_pairs',
  'metadata_items',
  'ram',
  'security_group_rules',
  'security_groups',
  'server_group_members',
  'server_groups',
]
const NETWORK = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups']
const INJECTED = ['injected_file_content_bytes', 'injected_file_path_bytes', 'injected_files']
const LIMIT_KEYS_21 = [
  'maxImageMeta',
  'maxPersonality',
  'maxPersonalitySize',
  'maxSecurityGroupRules',
  'maxSecurityGroups',
  'maxServerGroupMembers',
  'maxServerGroups',
  'maxServerMeta',
  'maxTotalCores',
  'maxTotalFloatingIps',
  'maxTotalInstances',
  'maxTotalKeypairs',
  'maxTotalRAMSize',
  'totalCoresUsed',
  'totalFloatingIpsUsed',
  'totalInstancesUsed',
  'totalRAMUsed',
  'totalSecurityGroupsUsed',
  'totalServerGroupsUsed',
]

/** Quota sets, limits, and quota enforcement at boot (including concurrent boots). */
describe('compute API: quotas and limits', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let alice: ProjectUser
  let nova: string
  let imageRef: string

  const boot = (s: Session, name: string, extra: Record<string, unknown> = {}) =>
    call(s, 'POST', `${nova}/servers`, { server: { name, imageRef, flavorRef: '1', ...extra } })
  const setQuota = async (project: string, quota_set: Record<string, unknown>, query = ''): Promise<void> => {
    const res = await call(admin, 'PUT', `${nova}/os-quota-sets/${project}${query}`, { quota_set })
    expect(res.status).toBe(200)
  }

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    nova = `${fed.api.urls.compute}/v2.1`
    alice = await createProjectUser(fed.api.urls.identity, admin, 'q-alice')
    const images = await call(admin, 'GET', `${fed.api.urls.image}/v2/images?name=cirros`)
    imageRef = images.body.images[0].id as string
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('shows the defaults with the keys of each microversion (2.1, 2.36, 2.57)', async () => {
    const q21 = await call(alice.session, 'GET', `${nova}/os-quota-sets/${alice.projectId}`)
    expect(q21.status).toBe(200)
    expect(Object.keys(q21.body.quota_set).sort()).toEqual(KEYS_21)
    expect(q21.body.quota_set).toMatchObject({ id: alice.projectId, instances: 10, cores: 20, ram: 51200, key_pairs: 100, server_groups: 10, server_group_members: 10, metadata_items: 128 })
    const q236 = await call(alice.session, 'GET', `${nova}/os-quota-sets/${alice.projectId}`, undefined, mv('2.36'))
    expect(Object.keys(q236.body.quota_set).sort()).toEqual(KEYS_21.filter((k) => !NETWORK.includes(k)))
    const q257 = await call(alice.session, 'GET', `${nova}/os-quota-sets/${alice.projectId}`, undefined, mv('2.57'))
    expect(Object.keys(q257.body.quota_set).sort()).toEqual(KEYS_21.filter((k) => !NETWORK.includes(k) && !INJECTED.includes(k)))
    const defaults = await call(alice.session, 'GET', `${nova}/os-quota-sets/${alice.projectId}/defaults`, undefined, mv('2.57'))
    expect(defaults.body.quota_set).toEqual(q257.body.quota_set)
  })

  it('answers detail with in_use, limit and reserved', async () => {
    const res = await call(alice.session, 'GET', `${nova}/os-quota-sets/${alice.projectId}/detail`, undefined, mv('2.57'))
    expect(res.status).toBe(200)
    expect(res.body.quota_set.id).toBe(alice.projectId)
    expect(res.body.quota_set.instances).toEqual({ in_use: 0, limit: 10, reserved: 0 })
    expect(res.body.quota_set.ram).toEqual({ in_use: 0, limit: 51200, reserved: 0 })
  })

  it('keeps quota sets to admins and the project itself (403), and knows only real projects (400)', async () => {
    const other = await call(alice.session, 'GET', `${nova}/os-quota-sets/some-other-project`)
    expect(other.status).toBe(403)
    expect(other.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.")
    expect((await call(alice.session, 'GET', `${nova}/os-quota-sets/some-other-project/detail`)).status).toBe(403)
    const put = await call(alice.session, 'PUT', `${nova}/os-quota-sets/${alice.projectId}`, { quota_set: { instances: 100 } })
    expect(put.status).toBe(403)
    expect(put.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.")
    expect((await call(alice.session, 'DELETE', `${nova}/os-quota-sets/${alice.projectId}`)).status).toBe(403)
    const unknown = await call(admin, 'GET', `${nova}/os-quota-sets/no-such-project`)
    expect(unknown.status).toBe(400)
    expect(unknown.body.badRequest.message).toBe('Project ID no-such-project is not a valid project.')
    expect((await call(alice.session, 'GET', `${nova}/os-quota-sets/${alice.projectId}`)).body.quota_set.instances).toBe(10)
  })

  it('updates (200, no id in the answer; strings accepted) and refuses bad values with 400', async () => {
    const res = await call(admin, 'PUT', `${nova}/os-quota-sets/${alice.projectId}`, { quota_set: { instances: '20', cores: 40, ram: -1 } }, mv('2.57'))
    expect(res.status).toBe(200)
    expect(res.body.quota_set.id).toBeUndefined()
    expect(Object.keys(res.body.quota_set).sort()).toEqual(KEYS_21.filter((k) => k !== 'id' && !NETWORK.includes(k) && !INJECTED.includes(k)))
    expect(res.body.quota_set).toMatchObject({ instances: 20, cores: 40, ram: -1 })
    const bad: Array<[string, Record<string, unknown>, string, string]> = [
      ['2.1', { instances: -2 }, '', 'instances'],
      ['2.1', { instances: 'many' }, '', 'instances'],
      ['2.1', { instances: 1.5 }, '', 'instances'],
      ['2.1', { wishes: 3 }, '', "'wishes' was unexpected"],
      ['2.1', { networks: 3 }, '', 'The networks quota is disabled'],
      ['2.36', { floating_ips: 3 }, '', "'floating_ips' was unexpected"],
      ['2.57', { injected_files: 3 }, '', "'injected_files' was unexpected"],
      ['2.1', { force: 'sometimes' }, '', 'force'],
    ]
    for (const [version, quota_set, query, message] of bad) {
      const r = await call(admin, 'PUT', `${nova}/os-quota-sets/${alice.projectId}${query}`, { quota_set }, mv(version))
      expect(r.status, JSON.stringify(quota_set)).toBe(400)
      expect(r.body.badRequest.message).toContain(message)
    }
    expect((await call(admin, 'PUT', `${nova}/os-quota-sets/${alice.projectId}`, { quota: { instances: 1 } })).status).toBe(400)
    expect((await call(admin, 'PUT', `${nova}/os-quota-sets/no-such-project`, { quota_set: { instances: 1 } })).status).toBe(400)
    const after = await call(alice.session, 'GET', `${nova}/os-quota-sets/${alice.projectId}`)
    expect(after.body.quota_set).toMatchObject({ instances: 20, cores: 40, ram: -1, floating_ips: 10, injected_files: 5 })
    // Network and injected-file quotas are still settable below 2.36.
    await setQuota(alice.projectId, { floating_ips: 3, injected_files: 2 })
    expect((await call(alice.session, 'GET', `${nova}/os-quota-sets/${alice.projectId}`)).body.quota_set).toMatchObject({ floating_ips: 3, injected_files: 2 })
  })

  it('deletes the overrides (202): back to the defaults', async () => {
    const del = await call(admin, 'DELETE', `${nova}/os-quota-sets/${alice.projectId}`)
    expect(del.status).toBe(202)
    expect(del.body).toBeUndefined()
    expect((await call(alice.session, 'GET', `${nova}/os-quota-sets/${alice.projectId}`)).body.quota_set).toMatchObject({ instances: 10, cores: 20, ram: 51200, floating_ips: 10 })
  })

  it('answers /limits with the keys of each microversion and an empty rate list', async () => {
    const l21 = await call(alice.session, 'GET', `${nova}/limits`)
    expect(l21.status).toBe(200)
    expect(l21.body.limits.rate).toEqual([])
    expect(Object.keys(l21.body.limits).sort()).toEqual(['absolute', 'rate'])
    expect(Object.keys(l21.body.limits.absolute).sort()).toEqual(LIMIT_KEYS_21)
    expect(l21.body.limits.absolute).toMatchObject({ maxTotalInstances: 10, maxTotalCores: 20, maxTotalRAMSize: 51200, maxTotalKeypairs: 100, maxServerMeta: 128, maxImageMeta: 128, totalInstancesUsed: 0 })
    const drop236 = ['maxSecurityGroupRules', 'maxSecurityGroups', 'maxTotalFloatingIps', 'totalFloatingIpsUsed', 'totalSecurityGroupsUsed']
    const l236 = await call(alice.session, 'GET', `${nova}/limits`, undefined, mv('2.36'))
    expect(Object.keys(l236.body.limits.absolute).sort()).toEqual(LIMIT_KEYS_21.filter((k) => !drop236.includes(k)))
    const l239 = await call(alice.session, 'GET', `${nova}/limits`, undefined, mv('2.39'))
    expect(Object.keys(l239.body.limits.absolute).sort()).toEqual(LIMIT_KEYS_21.filter((k) => !drop236.includes(k) && k !== 'maxImageMeta'))
    const l257 = await call(alice.session, 'GET', `${nova}/limits`, undefined, mv('2.57'))
    expect(Object.keys(l257.body.limits.absolute).sort()).toEqual(
      LIMIT_KEYS_21.filter((k) => !drop236.includes(k) && !['maxImageMeta', 'maxPersonality', 'maxPersonalitySize'].includes(k)),
    )
  })

  it('counts usage at boot and frees it at delete: limits, detail, tenant_id for admins only', async () => {
    const u = await createProjectUser(fed.api.urls.identity, admin, 'q-usage')
    const small = await boot(u.session, 'small', { flavorRef: '2' })
    expect(small.status).toBe(202)
    expect((await boot(u.session, 'tiny')).status).toBe(202)
    const limits = await call(u.session, 'GET', `${nova}/limits`)
    expect(limits.body.limits.absolute).toMatchObject({ totalInstancesUsed: 2, totalCoresUsed: 2, totalRAMUsed: 2048 + 512 })
    const detail = await call(u.session, 'GET', `${nova}/os-quota-sets/${u.projectId}/detail`)
    expect(detail.body.quota_set.instances).toEqual({ in_use: 2, limit: 10, reserved: 0 })
    expect(detail.body.quota_set.cores).toEqual({ in_use: 2, limit: 20, reserved: 0 })
    const byAdmin = await call(admin, 'GET', `${nova}/limits?tenant_id=${u.projectId}`)
    expect(byAdmin.body.limits.absolute.totalRAMUsed).toBe(2560)
    const denied = await call(alice.session, 'GET', `${nova}/limits?tenant_id=${u.projectId}`)
    expect(denied.status).toBe(403)
    expect(denied.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:limits:other_project to be performed.")
    // A limit below what is in use needs force.
    const low = await call(admin, 'PUT', `${nova}/os-quota-sets/${u.projectId}`, { quota_set: { instances: 1 } })
    expect(low.status).toBe(400)
    expect(low.body.badRequest.message).toBe('Quota limit 1 for instances must be greater than or equal to already used and reserved 2.')
    await setQuota(u.projectId, { instances: 1, force: true })
    const over = await boot(u.session, 'third')
    expect(over.status).toBe(403)
    expect(over.body).toEqual({ forbidden: { code: 403, message: 'Quota exceeded for instances: Requested 1, but already used 2 of 1 instances' } })
    await setQuota(u.projectId, { instances: 10 })
    expect((await call(u.session, 'DELETE', `${nova}/servers/${small.body.server.id}`)).status).toBe(204)
    await waitFor('usage freed', async () => {
      const l = await call(u.session, 'GET', `${nova}/limits`)
      return l.body.limits.absolute.totalInstancesUsed === 1 ? l : undefined
    })
    expect((await call(u.session, 'GET', `${nova}/limits`)).body.limits.absolute).toMatchObject({ totalCoresUsed: 1, totalRAMUsed: 512 })
  })

  it('refuses over-quota boots with Nova\'s message (instances, cores, ram) and writes nothing', async () => {
    const u = await createProjectUser(fed.api.urls.identity, admin, 'q-over')
    await setQuota(u.projectId, { instances: 2, cores: 3, ram: 4096 })
    expect((await boot(u.session, 'a', { flavorRef: '3' })).status).toBe(202) // 2 vCPU, 4096 MB
    const cores = await boot(u.session, 'b', { flavorRef: '3' })
    expect(cores.status).toBe(403)
    expect(cores.body.forbidden.message).toBe('Quota exceeded for cores, ram: Requested 2, 4096, but already used 2, 4096 of 3, 4096 cores, ram')
    const servers = await call(u.session, 'GET', `${nova}/servers`)
    expect(servers.body.servers.map((s: { name: string }) => s.name)).toEqual(['a'])
  })

  it('lowers max_count to what fits, and refuses when min_count does not fit', async () => {
    const u = await createProjectUser(fed.api.urls.identity, admin, 'q-multi')
    await setQuota(u.projectId, { instances: 3 })
    const tooMany = await boot(u.session, 'm', { min_count: 4, max_count: 5 })
    expect(tooMany.status).toBe(403)
    expect(tooMany.body.forbidden.message).toBe('Quota exceeded for instances: Requested 4-5, but already used 0 of 3 instances')
    const some = await boot(u.session, 'm', { min_count: 2, max_count: 5, return_reservation_id: true })
    expect(some.status).toBe(202)
    const list = await call(u.session, 'GET', `${nova}/servers?reservation_id=${some.body.reservation_id}`)
    expect(list.body.servers.map((s: { name: string }) => s.name).sort()).toEqual(['m-1', 'm-2', 'm-3'])
  })

  it('applies a user\'s own quota within the project (user_id)', async () => {
    const u = await createProjectUser(fed.api.urls.identity, admin, 'q-user')
    const tooHigh = await call(admin, 'PUT', `${nova}/os-quota-sets/${u.projectId}?user_id=${u.userId}`, { quota_set: { instances: 11 } })
    expect(tooHigh.status).toBe(400)
    expect(tooHigh.body.badRequest.message).toBe('Quota limit 11 for instances must be less than or equal to 10.')
    await setQuota(u.projectId, { instances: 1 }, `?user_id=${u.userId}`)
    expect((await call(admin, 'GET', `${nova}/os-quota-sets/${u.projectId}?user_id=${u.userId}`)).body.quota_set.instances).toBe(1)
    expect((await call(admin, 'GET', `${nova}/os-quota-sets/${u.projectId}`)).body.quota_set.instances).toBe(10)
    expect((await boot(u.session, 'one')).status).toBe(202)
    const two = await boot(u.session, 'two')
    expect(two.status).toBe(403)
    expect(two.body.forbidden.message).toBe('Quota exceeded for instances: Requested 1, but already used 1 of 1 instances')
    expect((await call(admin, 'DELETE', `${nova}/os-quota-sets/${u.projectId}?user_id=${u.userId}`)).status).toBe(202)
    expect((await boot(u.session, 'two')).status).toBe(202)
  })

  it('enforces metadata_items (403 with Nova\'s message)', async () => {
    const u = await createProjectUser(fed.api.urls.identity, admin, 'q-meta')
    await setQuota(u.projectId, { metadata_items: 2 })
    const over = await boot(u.session, 'meta', { metadata: { a: '1', b: '2', c: '3' } })
    expect(over.status).toBe(403)
    expect(over.body.forbidden.message).toBe('Maximum number of metadata items exceeds 2')
    expect((await boot(u.session, 'meta', { metadata: { a: '1', b: '2' } })).status).toBe(202)
  })

  it('keeps charging instances whose flavor was deleted', async () => {
    const u = await createProjectUser(fed.api.urls.identity, admin, 'q-flavor')
    const f = await call(admin, 'POST', `${nova}/flavors`, { flavor: { name: 'short-lived', ram: 300, vcpus: 3, disk: 1 } })
    await waitFor('fits for the new flavor', async () => (fed.api.tree.reports().some((c) => (c.flavorFits[f.body.flavor.id]?.count ?? 0) > 0) ? true : undefined))
    expect((await boot(u.session, 'on-short-lived', { flavorRef: f.body.flavor.id })).status).toBe(202)
    expect((await call(admin, 'DELETE', `${nova}/flavors/${f.body.flavor.id}`)).status).toBe(202)
    const limits = await call(u.session, 'GET', `${nova}/limits`)
    expect(limits.body.limits.absolute).toMatchObject({ totalInstancesUsed: 1, totalCoresUsed: 3, totalRAMUsed: 300 })
  })

  it('shows and updates the default quota class (admins only); projects without overrides follow it', async () => {
    const keys = async (version: string) => Object.keys((await call(admin, 'GET', `${nova}/os-quota-class-sets/default`, undefined, mv(version))).body.quota_class_set).sort()
    const sg = ['server_group_members', 'server_groups']
    expect(await keys('2.1')).toEqual(KEYS_21.filter((k) => !sg.includes(k)))
    expect(await keys('2.50')).toEqual(KEYS_21.filter((k) => !NETWORK.includes(k)))
    expect(await keys('2.57')).toEqual(KEYS_21.filter((k) => !NETWORK.includes(k) && !INJECTED.includes(k)))
    const denied = await call(alice.session, 'GET', `${nova}/os-quota-class-sets/default`)
    expect(denied.status).toBe(403)
    expect((await call(alice.session, 'PUT', `${nova}/os-quota-class-sets/default`, { quota_class_set: { instances: 50 } })).status).toBe(403)
    expect((await call(admin, 'PUT', `${nova}/os-quota-class-sets/default`, { quota_class_set: { instances: -5 } })).status).toBe(400)
    expect((await call(admin, 'PUT', `${nova}/os-quota-class-sets/default`, { quota_class_set: { floating_ips: 5 } }, mv('2.50'))).status).toBe(400)

    const upd = await call(admin, 'PUT', `${nova}/os-quota-class-sets/default`, { quota_class_set: { instances: 1, server_groups: 7 } }, mv('2.50'))
    expect(upd.status).toBe(200)
    expect(upd.body.quota_class_set.id).toBeUndefined()
    expect(upd.body.quota_class_set).toMatchObject({ instances: 1, server_groups: 7, cores: 20 })
    try {
      const u = await createProjectUser(fed.api.urls.identity, admin, 'q-class')
      expect((await call(u.session, 'GET', `${nova}/os-quota-sets/${u.projectId}/defaults`)).body.quota_set).toMatchObject({ instances: 1, server_groups: 7 })
      expect((await call(u.session, 'GET', `${nova}/os-quota-sets/${u.projectId}`)).body.quota_set.instances).toBe(1)
      expect((await call(u.session, 'GET', `${nova}/limits`)).body.limits.absolute.maxTotalInstances).toBe(1)
      expect((await boot(u.session, 'first')).status).toBe(202)
      expect((await boot(u.session, 'second')).status).toBe(403)
      // A project's own override still wins over the class.
      await setQuota(u.projectId, { instances: 2 })
      expect((await boot(u.session, 'second')).status).toBe(202)
    } finally {
      expect((await call(admin, 'PUT', `${nova}/os-quota-class-sets/default`, { quota_class_set: { instances: 10, server_groups: 10 } })).status).toBe(200)
    }
    expect((await call(admin, 'GET', `${nova}/os-quota-class-sets/default`)).body.quota_class_set.instances).toBe(10)
  })

  it('never lets parallel boots exceed the quota: 8 concurrent POSTs with room for 3 create exactly 3', async () => {
    const u = await createProjectUser(fed.api.urls.identity, admin, 'q-race')
    await setQuota(u.projectId, { instances: 3 })
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => boot(u.session, `race-${i}`)))
    const statuses = replies.map((r) => r.status).sort()
    expect(statuses).toEqual([202, 202, 202, 403, 403, 403, 403, 403])
    for (const r of replies.filter((x) => x.status === 403)) {
      expect(r.body.forbidden.message).toBe('Quota exceeded for instances: Requested 1, but already used 3 of 3 instances')
    }
    const servers = await call(u.session, 'GET', `${nova}/servers`)
    expect(servers.body.servers).toHaveLength(3)
    const detail = await call(u.session, 'GET', `${nova}/os-quota-sets/${u.projectId}/detail`)
    expect(detail.body.quota_set.instances).toEqual({ in_use: 3, limit: 3, reserved: 0 })
  })
})
