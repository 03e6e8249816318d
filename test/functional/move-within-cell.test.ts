import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

const HOSTS = ['r2-c1', 'r2-c2', 'r2-c3', 'r2-c4']

/**
 * Resize, cold migration and evacuation inside one leaf cell (region two), through the compute
 * API. Ground truth: the guests each host's driver holds, and the claims each host's compute node
 * counts (memory_mb_used of os-hypervisors, read from the cell DB).
 */
describe('moves within a cell: resize, confirm, revert, cold migration, evacuate', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let member: ProjectUser
  let r2: string
  let imageRef: string

  const guestsOf = async (uuid: string): Promise<string[]> => {
    const found: string[] = []
    for (const h of HOSTS) if ((await fed.driverOf(h)?.listInstances())?.includes(uuid)) found.push(h)
    return found
  }
  /** RAM claimed per host, as the cell DB counts it. */
  const ramUsed = async (): Promise<Record<string, number>> => {
    const res = await call(admin, 'GET', `${r2}/os-hypervisors/detail`)
    expect(res.status).toBe(200)
    return Object.fromEntries(
      (res.body.hypervisors as { hypervisor_hostname: string; memory_mb_used: number }[])
        .filter((h) => HOSTS.includes(h.hypervisor_hostname))
        .map((h) => [h.hypervisor_hostname, h.memory_mb_used]),
    )
  }
  const boot = async (s: Session, name: string, flavorRef = '1'): Promise<any> => {
    const res = await call(s, 'POST', `${r2}/servers`, { server: { name, imageRef, flavorRef } })
    expect(res.status).toBe(202)
    return waitForStatus(s, r2, res.body.server.id, 'ACTIVE')
  }
  const action = (s: Session, id: string, body: unknown, version = '2.56') => call(s, 'POST', `${r2}/servers/${id}/action`, body, mv(version))
  const show = async (s: Session, id: string): Promise<any> => (await call(s, 'GET', `${r2}/servers/${id}`, undefined, mv('2.47'))).body.server
  const lastAction = async (s: Session, id: string): Promise<any> => {
    const list = await call(s, 'GET', `${r2}/servers/${id}/os-instance-actions`)
    return list.body.instanceActions[0]
  }

  beforeAll(async () => {
    // The fake driver keeps a host's guests across a compute restart (libvirt's test driver forgets
    // them), which is what shows a returning host destroying an evacuated guest.
    // Reports every 300 ms, down after 1.5 s: the last test stops the cell and sees it down soon.
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '300'
    process.env['FEDERATION_DOWN_AFTER_MS'] = '1500'
    cfg = embeddedConfig(undefined, { driver: 'fake' })
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    delete process.env['FEDERATION_DOWN_AFTER_MS']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    r2 = endpoint(admin, 'compute', 'region-two')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-two')}/v2/images?name=cirros`)).body.images[0].id
    member = await createProjectUser(fed.api.urls.identity, admin, 'mover')
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('resizes to VERIFY_RESIZE holding claims on both hosts, and confirm frees the source', async () => {
    const server = await boot(member.session, 'resize-me')
    const source = server['OS-EXT-SRV-ATTR:host'] ?? (await guestsOf(server.id))[0]
    const before = await ramUsed()
    expect((await action(member.session, server.id, { resize: { flavorRef: '2' } })).status).toBe(202)
    await waitForStatus(member.session, r2, server.id, 'VERIFY_RESIZE')
    expect((await show(member.session, server.id)).flavor.original_name).toBe('m1.small')
    const guests = await guestsOf(server.id)
    const after = await ramUsed()
    const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0)
    // Both hosts hold a claim until confirm: the old flavor on the source, the new one on the target.
    expect(total(after) - total(before)).toBe(2048)
    expect(guests).toContain(source)
    const target = guests.find((h) => h !== source) ?? source
    expect((await lastAction(member.session, server.id)).action).toBe('resize')

    expect((await action(member.session, server.id, { confirmResize: null })).status).toBe(204)
    await waitForStatus(member.session, r2, server.id, 'ACTIVE')
    expect((await show(member.session, server.id)).flavor.original_name).toBe('m1.small')
    expect(await guestsOf(server.id)).toEqual([target])
    expect(total(await ramUsed()) - total(before)).toBe(2048 - 512)
    // The API's quota usage follows the new flavor.
    const limits = await call(member.session, 'GET', `${r2}/limits`)
    expect(limits.body.limits.absolute.totalRAMUsed).toBe(2048)
  })

  it('reverts a resize: the old flavor on the source again, the target guest and claim gone', async () => {
    const server = await boot(member.session, 'revert-me')
    const before = await ramUsed()
    const source = (await guestsOf(server.id))[0]
    expect((await action(member.session, server.id, { resize: { flavorRef: '2' } })).status).toBe(202)
    await waitForStatus(member.session, r2, server.id, 'VERIFY_RESIZE')
    expect((await action(member.session, server.id, { revertResize: null })).status).toBe(202)
    await waitForStatus(member.session, r2, server.id, 'ACTIVE')
    expect((await show(member.session, server.id)).flavor.original_name).toBe('m1.tiny')
    expect(await guestsOf(server.id)).toEqual([source])
    expect(await ramUsed()).toEqual(before)
    expect((await lastAction(member.session, server.id)).action).toBe('revertResize')
  })

  it('keeps the source guest of an unconfirmed migration when the source compute restarts, so that revert still works', async () => {
    const server = await boot(admin, 'source-restarts')
    const source = (await guestsOf(server.id))[0] ?? ''
    const target = HOSTS.find((h) => h !== source) ?? ''
    expect((await action(admin, server.id, { migrate: { host: target } })).status).toBe(202)
    await waitForStatus(admin, r2, server.id, 'VERIFY_RESIZE')
    await fed.restartCompute(source)
    expect((await guestsOf(server.id)).sort()).toEqual([source, target].sort())
    expect((await action(admin, server.id, { revertResize: null })).status).toBe(202)
    const back = await waitForStatus(admin, r2, server.id, 'ACTIVE')
    expect(back['OS-EXT-SRV-ATTR:host']).toBe(source)
    expect(await guestsOf(server.id)).toEqual([source])
    expect((await fed.driverOf(source)?.getInfo(server.id))?.powerState).toBe(1)
  })

  it('refuses bad resizes with 400 and wrong states with 409, changing nothing', async () => {
    const server = await boot(member.session, 'refuse-me')
    const same = await action(member.session, server.id, { resize: { flavorRef: '1' } })
    expect(same.status).toBe(400)
    expect(same.body.badRequest.message).toMatch(/must change flavor/)
    expect((await action(member.session, server.id, { resize: { flavorRef: 'no-such-flavor' } })).status).toBe(400)
    expect((await action(member.session, server.id, { resize: { flavor: '2' } })).status).toBe(400)
    // m1.tiny has a 1 GB disk: a zero-disk flavor would lose it.
    const zero = await call(admin, 'POST', `${r2}/flavors`, { flavor: { name: 'zero-disk', ram: 1024, vcpus: 1, disk: 0, id: 'zero-disk' } })
    expect(zero.status).toBe(200)
    const toZero = await action(member.session, server.id, { resize: { flavorRef: 'zero-disk' } })
    expect(toZero.status).toBe(400)
    expect(toZero.body.badRequest.message).toMatch(/zero disk/)
    const confirm = await action(member.session, server.id, { confirmResize: null })
    expect(confirm.status).toBe(409)
    expect(confirm.body.conflictingRequest.message).toMatch(/vm_state active/)
    expect((await action(member.session, server.id, { revertResize: null })).status).toBe(409)
    expect((await show(member.session, server.id)).status).toBe('ACTIVE')
  })

  it('refuses an upsize over the cores or RAM quota with 403', async () => {
    const server = await boot(member.session, 'quota-me')
    const q = await call(admin, 'PUT', `${r2}/os-quota-sets/${member.projectId}`, { quota_set: { cores: 4 } })
    expect(q.status).toBe(200)
    try {
      const res = await action(member.session, server.id, { resize: { flavorRef: '5' } })
      expect(res.status).toBe(403)
      expect(res.body.forbidden.message).toMatch(/Quota exceeded for cores/)
      expect((await show(member.session, server.id)).status).toBe('ACTIVE')
    } finally {
      await call(admin, 'PUT', `${r2}/os-quota-sets/${member.projectId}`, { quota_set: { cores: 20 } })
    }
  })

  it('migrates (admin, to a named host at 2.56), ending in VERIFY_RESIZE, then confirm', async () => {
    const server = await boot(admin, 'migrate-me')
    const source = (await guestsOf(server.id))[0] ?? ''
    const target = HOSTS.find((h) => h !== source) ?? ''
    expect((await action(member.session, server.id, { migrate: null })).status).toBe(404)
    expect((await action(admin, server.id, { migrate: { host: 'no-such-host' } })).status).toBe(400)
    // Before 2.56 Nova does not validate the body (a host there is ignored): move-action-bodies.test.ts.
    expect((await action(admin, server.id, { migrate: { host: target } })).status).toBe(202)
    const moved = await waitForStatus(admin, r2, server.id, 'VERIFY_RESIZE')
    expect(moved['OS-EXT-SRV-ATTR:host']).toBe(target)
    expect((await guestsOf(server.id)).sort()).toEqual([source, target].sort())
    expect((await action(admin, server.id, { confirmResize: null })).status).toBe(204)
    await waitForStatus(admin, r2, server.id, 'ACTIVE')
    expect(await guestsOf(server.id)).toEqual([target])
    const migrations = await call(admin, 'GET', `${r2}/os-migrations?instance_uuid=${server.id}`, undefined, mv('2.59'))
    expect(migrations.status).toBe(200)
    expect(migrations.body.migrations).toHaveLength(1)
    expect(migrations.body.migrations[0]).toMatchObject({ migration_type: 'migration', status: 'confirmed', source_compute: source, dest_compute: target, instance_uuid: server.id })
  })

  it('pages os-migrations at 2.59 (newest first, marker = uuid), filters by time at 2.66, and is admin-only', async () => {
    const all = await call(admin, 'GET', `${r2}/os-migrations`, undefined, mv('2.59'))
    expect(all.status).toBe(200)
    const list = all.body.migrations as Array<{ uuid: string; created_at: string }>
    expect(list.length).toBeGreaterThanOrEqual(3)
    const created = list.map((m) => m.created_at)
    expect([...created].sort().reverse()).toEqual(created)
    const first = await call(admin, 'GET', `${r2}/os-migrations?limit=1`, undefined, mv('2.59'))
    expect(first.body.migrations.map((m: any) => m.uuid)).toEqual([list[0]?.uuid])
    expect(first.body.migrations_links[0].href).toContain(`marker=${list[0]?.uuid}`)
    const next = await call(admin, 'GET', `${r2}/os-migrations?limit=1&marker=${list[0]?.uuid}`, undefined, mv('2.59'))
    expect(next.body.migrations.map((m: any) => m.uuid)).toEqual([list[1]?.uuid])
    expect((await call(admin, 'GET', `${r2}/os-migrations?marker=${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`, undefined, mv('2.59'))).status).toBe(400)
    const none = await call(admin, 'GET', `${r2}/os-migrations?changes-before=2000-01-01T00:00:00Z`, undefined, mv('2.66'))
    expect(none.body.migrations).toEqual([])
    expect((await call(admin, 'GET', `${r2}/os-migrations?changes-since=yesterday`, undefined, mv('2.59'))).status).toBe(400)
    // Before 2.59: no uuid, no paging.
    const old = await call(admin, 'GET', `${r2}/os-migrations`, undefined, mv('2.1'))
    expect(old.body.migrations[0]).not.toHaveProperty('uuid')
    expect(old.body.migrations[0]).not.toHaveProperty('migration_type')
    expect((await call(member.session, 'GET', `${r2}/os-migrations`)).status).toBe(403)
  })

  it('refuses a migration to non-admins with 403', async () => {
    const server = await boot(member.session, 'not-yours-to-move')
    const res = await action(member.session, server.id, { migrate: null }, '2.1')
    expect(res.status).toBe(403)
    expect((await show(member.session, server.id)).status).toBe('ACTIVE')
  })

  it('puts the instance back on its source, claims released, when the target fails to spawn', async () => {
    const server = await boot(admin, 'fail-midway')
    const source = (await guestsOf(server.id))[0] ?? ''
    const target = HOSTS.find((h) => h !== source) ?? ''
    const before = await ramUsed()
    const driver = fed.driverOf(target)
    if (driver === undefined) throw new Error(`no driver for ${target}`)
    const spawn = driver.spawn.bind(driver)
    driver.spawn = () => Promise.reject(new Error('the target refuses this guest'))
    try {
      expect((await action(admin, server.id, { migrate: { host: target } })).status).toBe(202)
      const failed = await waitFor('the failed migration', async () => {
        const a = await lastAction(admin, server.id)
        return a.action === 'migrate' && a.message !== null ? a : undefined
      })
      expect(failed.message).toMatch(/refuses/)
    } finally {
      driver.spawn = spawn
    }
    const back = await waitForStatus(admin, r2, server.id, 'ACTIVE')
    expect(back['OS-EXT-SRV-ATTR:host']).toBe(source)
    expect(await guestsOf(server.id)).toEqual([source])
    expect(await ramUsed()).toEqual(before)
    const info = await fed.driverOf(source)?.getInfo(server.id)
    expect(info?.powerState).toBe(1)
  })

  it('evacuates only from a host that is down, rebuilding on another host', async () => {
    const server = await boot(admin, 'evacuate-me')
    const source = (await guestsOf(server.id))[0] ?? ''
    const up = await action(admin, server.id, { evacuate: {} }, '2.29')
    expect(up.status).toBe(400)
    expect(up.body.badRequest.message).toMatch(/still in use/)
    expect((await action(member.session, server.id, { evacuate: {} }, '2.29')).status).toBe(404)
    // The request shapes of 2.1 (onSharedStorage required), 2.14 (gone), 2.29 (force) and 2.68 (force gone).
    const shapes: Array<[string, unknown, RegExp]> = [
      ['2.1', {}, /onSharedStorage/],
      ['2.14', { onSharedStorage: false }, /onSharedStorage/],
      ['2.68', { force: true }, /force/],
      ['2.1', { onSharedStorage: false }, /still in use/],
      ['2.29', { force: true, host: 'no-such-host' }, /still in use/],
    ]
    for (const [version, body, message] of shapes) {
      const res = await action(admin, server.id, { evacuate: body }, version)
      expect(res.status, `${version} ${JSON.stringify(body)}`).toBe(400)
      expect(res.body.badRequest.message).toMatch(message)
    }
    const services = await call(admin, 'GET', `${r2}/os-services?host=${source}&binary=nova-compute`, undefined, mv('2.53'))
    const serviceId = services.body.services[0].id as string
    expect((await call(admin, 'PUT', `${r2}/os-services/${serviceId}`, { forced_down: true }, mv('2.53'))).status).toBe(200)
    try {
      const res = await action(admin, server.id, { evacuate: {} }, '2.29')
      expect(res.status).toBe(200)
      const moved = await waitFor('the evacuated server on another host', async () => {
        const s = await show(admin, server.id)
        return s.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] !== source ? s : undefined
      })
      const target = moved['OS-EXT-SRV-ATTR:host'] as string
      // The "dead" host still holds its guest: nothing could tell it yet.
      expect((await guestsOf(server.id)).sort()).toEqual([source, target].sort())
      expect((await lastAction(admin, server.id)).action).toBe('evacuate')
      // The host comes back: its compute finds the instance is no longer its own, and destroys the
      // guest instead of running it.
      await fed.restartCompute(source)
      expect(await guestsOf(server.id)).toEqual([target])
      expect((await show(admin, server.id))['OS-EXT-SRV-ATTR:host']).toBe(target)
    } finally {
      await call(admin, 'PUT', `${r2}/os-services/${serviceId}`, { forced_down: false }, mv('2.53'))
    }
  })

  it('deletes a server waiting in VERIFY_RESIZE: both guests and both claims go', async () => {
    const server = await boot(admin, 'delete-while-resized')
    const before = await ramUsed()
    expect((await action(admin, server.id, { resize: { flavorRef: '2' } })).status).toBe(202)
    await waitForStatus(admin, r2, server.id, 'VERIFY_RESIZE')
    expect((await call(admin, 'DELETE', `${r2}/servers/${server.id}`)).status).toBe(204)
    await waitFor('the server to go', async () => ((await call(admin, 'GET', `${r2}/servers/${server.id}`)).status === 404 ? true : undefined))
    await waitFor('both guests to go', async () => ((await guestsOf(server.id)).length === 0 ? true : undefined))
    const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0)
    expect(total(await ramUsed())).toBe(total(before) - 512)
  })

  it('resizes a stopped server, which stays stopped after confirm', async () => {
    const server = await boot(member.session, 'stopped-resize')
    expect((await action(member.session, server.id, { 'os-stop': null })).status).toBe(202)
    await waitForStatus(member.session, r2, server.id, 'SHUTOFF')
    expect((await action(member.session, server.id, { resize: { flavorRef: '2' } })).status).toBe(202)
    await waitForStatus(member.session, r2, server.id, 'VERIFY_RESIZE')
    expect((await action(member.session, server.id, { confirmResize: null })).status).toBe(204)
    const done = await waitForStatus(member.session, r2, server.id, 'SHUTOFF')
    expect(done['OS-EXT-STS:power_state']).toBe(4)
  })

  it('resizes on the same host when it is the only one with room (allow_resize_to_same_host), and reverts there', async () => {
    const server = await boot(admin, 'same-host')
    const source = (await guestsOf(server.id))[0] ?? ''
    const others = HOSTS.filter((h) => h !== source)
    const services = await call(admin, 'GET', `${r2}/os-services?binary=nova-compute`, undefined, mv('2.53'))
    const ids = (services.body.services as { id: string; host: string }[]).filter((s) => others.includes(s.host)).map((s) => s.id)
    expect(ids).toHaveLength(others.length)
    for (const id of ids) expect((await call(admin, 'PUT', `${r2}/os-services/${id}`, { status: 'disabled' }, mv('2.53'))).status).toBe(200)
    try {
      // A cold migration may never stay: no other host is enabled, so no valid host.
      const migrate = await action(admin, server.id, { migrate: null })
      expect(migrate.status).toBe(400)
      expect(migrate.body.badRequest.message).toMatch(/No valid host/)
      expect((await show(admin, server.id)).status).toBe('ACTIVE')
      expect((await action(admin, server.id, { resize: { flavorRef: '2' } })).status).toBe(202)
      const resized = await waitForStatus(admin, r2, server.id, 'VERIFY_RESIZE')
      expect(resized['OS-EXT-SRV-ATTR:host']).toBe(source)
      expect(await guestsOf(server.id)).toEqual([source])
      expect((await fed.driverOf(source)?.getInfo(server.id))?.memoryMb).toBe(2048)
      expect((await action(admin, server.id, { revertResize: null })).status).toBe(202)
      await waitForStatus(admin, r2, server.id, 'ACTIVE')
      expect((await fed.driverOf(source)?.getInfo(server.id))?.memoryMb).toBe(512)
    } finally {
      for (const id of ids) await call(admin, 'PUT', `${r2}/os-services/${id}`, { status: 'enabled' }, mv('2.53'))
    }
  })

  it('refuses moves with 409 while the cell is down (status UNKNOWN)', async () => {
    const server = await boot(admin, 'cell-goes-down')
    await fed.stopCell('api!region-two')
    await waitFor('region two down', async () => (fed.api.tree.isDown('api!region-two') ? true : undefined), 15_000)
    for (const body of [{ resize: { flavorRef: '2' } }, { migrate: null }, { confirmResize: null }, { 'os-migrateLive': { host: null, block_migration: 'auto' } }]) {
      const res = await action(admin, server.id, body)
      expect(res.status, JSON.stringify(body)).toBe(409)
      expect(res.body.conflictingRequest.message).toMatch(/is down/)
    }
  })
})

describe('live migration within a cell', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let r2: string
  let imageRef: string

  const guestsOf = async (uuid: string): Promise<string[]> => {
    const found: string[] = []
    for (const h of HOSTS) if ((await fed.driverOf(h)?.listInstances())?.includes(uuid)) found.push(h)
    return found
  }
  const ramUsed = async (): Promise<Record<string, number>> => {
    const res = await call(admin, 'GET', `${r2}/os-hypervisors/detail`)
    return Object.fromEntries((res.body.hypervisors as { hypervisor_hostname: string; memory_mb_used: number }[]).map((h) => [h.hypervisor_hostname, h.memory_mb_used]))
  }
  const boot = async (name: string): Promise<any> => {
    const res = await call(admin, 'POST', `${r2}/servers`, { server: { name, imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    return waitForStatus(admin, r2, res.body.server.id, 'ACTIVE')
  }
  const live = (id: string, body: unknown, version = '2.30', s: Session = admin) => call(s, 'POST', `${r2}/servers/${id}/action`, { 'os-migrateLive': body }, mv(version))

  beforeAll(async () => {
    // libvirt's test driver when it loads (the default): define-on-target / undefine-on-source for real.
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    r2 = endpoint(admin, 'compute', 'region-two')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-two')}/v2/images?name=cirros`)).body.images[0].id
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('moves a running server to the named host; the claim follows it; os-migrations shows it completed', async () => {
    // libvirt0 is a test prerequisite: the guest really is a domain defined on one test:/// connection
    // and undefined on another.
    expect(fed.driver).toBe('libvirt')
    const server = await boot('live-one')
    const source = (await guestsOf(server.id))[0] ?? ''
    const target = HOSTS.find((h) => h !== source) ?? ''
    const before = await ramUsed()
    expect((await live(server.id, { host: target, block_migration: 'auto' })).status).toBe(202)
    const moved = await waitFor('the server on the target', async () => {
      const s = (await call(admin, 'GET', `${r2}/servers/${server.id}`)).body.server
      return s.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] === target ? s : undefined
    })
    expect(moved['OS-EXT-STS:power_state']).toBe(1)
    expect(await guestsOf(server.id)).toEqual([target])
    const after = await ramUsed()
    expect(after[source]).toBe((before[source] ?? 0) - 512)
    expect(after[target]).toBe((before[target] ?? 0) + 512)
    const list = await call(admin, 'GET', `${r2}/os-migrations?migration_type=live-migration&instance_uuid=${server.id}`, undefined, mv('2.59'))
    expect(list.body.migrations).toEqual([expect.objectContaining({ status: 'completed', source_compute: source, dest_compute: target })])
    // Nothing under way any more: the server's list is empty, and a finished one cannot be aborted.
    const under = await call(admin, 'GET', `${r2}/servers/${server.id}/migrations`, undefined, mv('2.59'))
    expect(under.body.migrations).toEqual([])
    const abort = await call(admin, 'DELETE', `${r2}/servers/${server.id}/migrations/${list.body.migrations[0].id}`, undefined, mv('2.24'))
    expect(abort.status).toBe(400)
    expect((await call(admin, 'GET', `${r2}/servers/${server.id}/migrations/${list.body.migrations[0].id}`, undefined, mv('2.59'))).status).toBe(404)
  })

  it('keeps a paused server paused, and lets the scheduler pick the host (host null)', async () => {
    const server = await boot('live-paused')
    const source = (await guestsOf(server.id))[0] ?? ''
    expect((await call(admin, 'POST', `${r2}/servers/${server.id}/action`, { pause: null })).status).toBe(202)
    await waitForStatus(admin, r2, server.id, 'PAUSED')
    expect((await live(server.id, { host: null, block_migration: false, disk_over_commit: false }, '2.1')).status).toBe(202)
    const moved = await waitFor('the paused server elsewhere', async () => {
      const s = (await call(admin, 'GET', `${r2}/servers/${server.id}`)).body.server
      return s.status === 'PAUSED' && s['OS-EXT-SRV-ATTR:host'] !== source ? s : undefined
    })
    expect(moved['OS-EXT-STS:power_state']).toBe(3)
    expect(await guestsOf(server.id)).toEqual([moved['OS-EXT-SRV-ATTR:host']])
  })

  it('refuses non-admins (403), bad bodies for the microversion (400) and a stopped server (409)', async () => {
    const server = await boot('live-refused')
    const member = await createProjectUser(fed.api.urls.identity, admin, 'live-member')
    const own = await call(member.session, 'POST', `${r2}/servers`, { server: { name: 'm', imageRef, flavorRef: '1' } })
    await waitForStatus(member.session, r2, own.body.server.id, 'ACTIVE')
    expect((await live(own.body.server.id, { host: null, block_migration: 'auto' }, '2.30', member.session)).status).toBe(403)
    expect((await live(server.id, { host: null, block_migration: 'auto', disk_over_commit: false }, '2.25')).status).toBe(400)
    expect((await live(server.id, { host: null, block_migration: 'auto', force: false }, '2.68')).status).toBe(400)
    expect((await live(server.id, { block_migration: 'auto' }, '2.30')).status).toBe(400)
    expect((await call(admin, 'POST', `${r2}/servers/${server.id}/action`, { 'os-stop': null })).status).toBe(202)
    await waitForStatus(admin, r2, server.id, 'SHUTOFF')
    expect((await live(server.id, { host: null, block_migration: 'auto' })).status).toBe(409)
  })

  it('leaves the server running on its source, target claim released, when the target refuses the guest', async () => {
    const server = await boot('live-refused-by-target')
    const source = (await guestsOf(server.id))[0] ?? ''
    const target = HOSTS.find((h) => h !== source) ?? ''
    const before = await ramUsed()
    const driver = fed.driverOf(target)
    if (driver === undefined) throw new Error(`no driver for ${target}`)
    const accept = driver.migrationTarget.bind(driver)
    driver.migrationTarget = () => Promise.reject(new Error('the target refuses this guest'))
    try {
      expect((await live(server.id, { host: target, block_migration: 'auto' })).status).toBe(202)
      await waitFor('the failed live migration', async () => {
        const l = await call(admin, 'GET', `${r2}/os-migrations?instance_uuid=${server.id}`, undefined, mv('2.59'))
        return l.body.migrations[0]?.status === 'error' ? true : undefined
      })
    } finally {
      driver.migrationTarget = accept
    }
    const shown = await waitForStatus(admin, r2, server.id, 'ACTIVE')
    expect(shown['OS-EXT-SRV-ATTR:host']).toBe(source)
    expect(await guestsOf(server.id)).toEqual([source])
    expect(await ramUsed()).toEqual(before)
  })
})
