import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { TEST_GUEST_CONSOLE } from '../../child-cell/compute/virt/driver.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

/**
 * Snapshots, backups, shelve / unshelve, rescue and console output of one instance, in the embedded
 * federation (libvirt's test driver when libvirt0 is installed, as here; qcow2 overlays with qemu-img).
 */
describe('embedded federation: snapshot, backup, shelve, rescue, console output', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let alice: ProjectUser
  let nova: string
  let glance: string
  let cirros: string
  let id: string

  const action = (body: unknown, who: Session = alice.session, v = '2.1') => call(who, 'POST', `${nova}/servers/${id}/action`, body, mv(v))
  const server = async (): Promise<any> => (await call(admin, 'GET', `${nova}/servers/${id}`, undefined, mv('2.1'))).body.server
  /** Waits until the server is idle (no task state) in `status`. */
  const settle = (status: string): Promise<any> =>
    waitFor(`server ${status} and idle`, async () => {
      const s = await server()
      if (s.status === 'ERROR') throw new Error(`ERROR: ${JSON.stringify(s.fault)}`)
      return s.status === status && s['OS-EXT-STS:task_state'] === null ? s : undefined
    })
  const image = (imageId: string, who: Session = alice.session) => call(who, 'GET', `${glance}/v2/images/${imageId}`)
  const activeImage = (imageId: string): Promise<any> =>
    waitFor(`image ${imageId} active`, async () => {
      const r = await image(imageId)
      return r.status === 200 && r.body.status === 'active' ? r.body : undefined
    })
  const events = async (name: string): Promise<any[]> => {
    const list = await call(alice.session, 'GET', `${nova}/servers/${id}/os-instance-actions`)
    const found = list.body.instanceActions.find((a: any) => a.action === name)
    if (found === undefined) return []
    return (await call(alice.session, 'GET', `${nova}/servers/${id}/os-instance-actions/${found.request_id}`)).body.instanceAction.events
  }
  const guestOf = async (): Promise<any> => {
    const s = await server()
    const host = s['OS-EXT-SRV-ATTR:host'] as string | null
    return host === null ? undefined : fed.driverOf(host)?.getInfo(id)
  }

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    alice = await createProjectUser(fed.api.urls.identity, admin, 'alice-shelve')
    nova = endpoint(alice.session, 'compute', 'region-one')
    glance = endpoint(alice.session, 'image', 'region-one')
    cirros = (await call(alice.session, 'GET', `${glance}/v2/images?name=cirros`)).body.images[0].id
    const res = await call(alice.session, 'POST', `${nova}/servers`, { server: { name: 'keeper', imageRef: cirros, flavorRef: '1' } })
    expect(res.status).toBe(202)
    id = res.body.server.id
    await waitForStatus(alice.session, nova, id, 'ACTIVE')
  }, 60_000)

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('createImage (2.45): 202 with the image id; the flattened disk lands in the image service with Nova’s properties', async () => {
    const t0 = Date.now()
    const res = await action({ createImage: { name: 'snap-1', metadata: { purpose: 'test' } } }, alice.session, '2.45')
    expect(res.status).toBe(202)
    expect(res.headers.get('location')).toBeNull()
    const imageId = res.body.image_id as string
    const img = await activeImage(imageId)
    process.stdout.write(`embedded createImage -> image active: ${Date.now() - t0} ms (${img.size} bytes)\n`)
    expect(img).toMatchObject({ name: 'snap-1', instance_uuid: id, base_image_ref: cirros, image_type: 'snapshot', purpose: 'test', disk_format: 'qcow2', owner: alice.projectId })
    expect(img.size).toBeGreaterThan(0)
    const data = await fetch(`${glance}/v2/images/${imageId}/file`, { headers: { 'x-auth-token': alice.session.token } })
    // A real qcow2 file: qemu-img convert wrote it (magic QFI\xfb).
    expect(Buffer.from(await data.arrayBuffer()).subarray(0, 4).toString('hex')).toBe('514649fb')
    expect((await settle('ACTIVE'))['OS-EXT-STS:vm_state']).toBe('active')
    await waitFor('snapshot event', async () => ((await events('createImage'))[0]?.result === 'Success' ? true : undefined))
    expect((await events('createImage')).map((e) => e.event)).toEqual(['compute_snapshot_instance'])
  })

  it('createImage (2.1): 202, empty body, Location of the image; bad bodies are 400 and create no image', async () => {
    const res = await action({ createImage: { name: 'snap-2' } })
    expect(res.status).toBe(202)
    expect(res.body).toBeUndefined()
    const location = res.headers.get('location') ?? ''
    expect(location).toMatch(/\/v2\.1\/images\/[0-9a-f-]{36}$/)
    await activeImage(location.split('/').pop() ?? '')
    await settle('ACTIVE')
    const before = (await call(alice.session, 'GET', `${glance}/v2/images`)).body.images.length
    for (const bad of [{ createImage: {} }, { createImage: { name: 'x', extra: 1 } }, { createImage: { name: '' } }, { createBackup: { name: 'b', backup_type: 'daily' } }]) {
      const r = await action(bad)
      expect(r.status).toBe(400)
      expect(r.body.badRequest.code).toBe(400)
    }
    expect((await call(alice.session, 'GET', `${glance}/v2/images`)).body.images.length).toBe(before)
  })

  it('createBackup keeps the newest `rotation` backups of the instance and type', async () => {
    const made: string[] = []
    for (let i = 0; i < 3; i++) {
      const res = await action({ createBackup: { name: `daily-${i}`, backup_type: 'daily', rotation: '2' } }, alice.session, '2.45')
      expect(res.status).toBe(202)
      made.push(res.body.image_id)
      await activeImage(res.body.image_id)
      await settle('ACTIVE')
    }
    await waitFor('rotation', async () => ((await image(made[0] ?? '')).status === 404 ? true : undefined))
    expect((await image(made[1] ?? '')).body).toMatchObject({ image_type: 'backup', backup_type: 'daily', instance_uuid: id })
    expect((await image(made[2] ?? '')).status).toBe(200)
  })

  it('rescue answers adminPass and reboots the guest from the rescue disk; unrescue goes back; wrong states are 409', async () => {
    expect((await action({ unrescue: null })).status).toBe(409)
    expect((await action({ rescue: { rescue_image_ref: '6f1c7b0e-3d2a-4c8e-9b5f-0a1d2e3f4a5b' } })).status).toBe(400)
    const t0 = Date.now()
    const res = await action({ rescue: { adminPass: 'MySecretPass' } })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ adminPass: 'MySecretPass' })
    await settle('RESCUE')
    process.stdout.write(`embedded rescue -> RESCUE: ${Date.now() - t0} ms\n`)
    expect(await guestOf()).toMatchObject({ powerState: 1, rescued: true })
    expect((await action({ rescue: null })).status).toBe(409)
    expect((await action({ 'os-stop': null })).status).toBe(409)
    expect((await action({ unrescue: null })).status).toBe(202)
    await settle('ACTIVE')
    expect(await guestOf()).toMatchObject({ powerState: 1, rescued: false })
    expect((await events('rescue')).map((e) => [e.event, e.result])).toEqual([['compute_rescue_instance', 'Success']])
    const generated = await action({ rescue: null })
    expect(generated.body.adminPass).toMatch(/^[A-Za-z0-9_-]{12}$/)
    await settle('RESCUE')
    // Nova's unrescue takes any value; Tempest sends {}.
    expect((await action({ unrescue: {} })).status).toBe(202)
    await settle('ACTIVE')
  })

  it('os-getConsoleOutput answers the console log (the test driver guest’s fixed boot log) through the cell, `length` lines as Nova counts them', async () => {
    const res = await action({ 'os-getConsoleOutput': { length: 50 } })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ output: TEST_GUEST_CONSOLE })
    expect((await action({ 'os-getConsoleOutput': {} })).body).toEqual({ output: TEST_GUEST_CONSOLE })
    // Tempest's test_get_console_output: length 3 splits into exactly 3 lines.
    const three = (await action({ 'os-getConsoleOutput': { length: 3 } })).body.output as string
    expect(three.split('\n')).toHaveLength(3)
    expect((await action({ 'os-getConsoleOutput': { length: 'many' } })).status).toBe(400)
    expect((await action({ 'os-getConsoleOutput': { length: -2 } })).status).toBe(400)
  })

  it('shelve offloads at once (shelved_offload_time 0): the guest leaves its host, the claim goes, the image stays', async () => {
    const before = await server()
    const host = before['OS-EXT-SRV-ATTR:host'] as string
    expect((await action({ shelveOffload: null })).status).toBe(403)
    expect((await action({ shelveOffload: null }, admin)).status).toBe(409)
    expect((await action({ unshelve: null })).status).toBe(409)
    const t0 = Date.now()
    // Nova's shelve takes any value; Tempest sends {}.
    expect((await action({ shelve: {} })).status).toBe(202)
    const shelved = await settle('SHELVED_OFFLOADED')
    process.stdout.write(`embedded shelve -> SHELVED_OFFLOADED: ${Date.now() - t0} ms\n`)
    expect(shelved['OS-EXT-SRV-ATTR:host']).toBeNull()
    expect(await fed.driverOf(host)?.listInstances()).not.toContain(id)
    expect((await action({ 'os-getConsoleOutput': {} })).status).toBe(409)
    expect((await action({ createImage: { name: 'nope' } })).status).toBe(409)
    const snaps = (await call(alice.session, 'GET', `${glance}/v2/images`)).body.images.filter((i: any) => i.name === 'keeper-shelved')
    expect(snaps).toHaveLength(1)
    expect(snaps[0]).toMatchObject({ status: 'active', instance_uuid: id, image_type: 'snapshot' })
    // The index at the top follows (status through the outbox).
    const listed = await call(alice.session, 'GET', `${nova}/servers/detail?status=SHELVED_OFFLOADED`)
    expect(listed.body.servers.map((s: any) => s.id)).toEqual([id])
  })

  it('unshelve with no valid host stays SHELVED_OFFLOADED with a fault and an error event, and is not lost', async () => {
    // From 2.77 the body is checked (before, Nova ignores it).
    expect((await action({ unshelve: { bogus: 'nowhere' } }, alice.session, '2.77')).status).toBe(400)
    const services = (await call(admin, 'GET', `${nova}/os-services?binary=nova-compute`, undefined, mv('2.53'))).body.services as any[]
    const setAll = async (status: 'enabled' | 'disabled'): Promise<void> => {
      for (const svc of services.filter((x) => String(x.host).startsWith('r1-'))) {
        const r = await call(admin, 'PUT', `${nova}/os-services/${svc.id}`, { status, ...(status === 'disabled' ? { disabled_reason: 'test' } : {}) }, mv('2.53'))
        expect(r.status).toBe(200)
      }
    }
    await setAll('disabled')
    try {
      expect((await action({ unshelve: null })).status).toBe(202)
      await waitFor('unshelve error', async () => ((await events('unshelve'))[0]?.result === 'Error' ? true : undefined))
      const s = await settle('SHELVED_OFFLOADED')
      expect(s['OS-EXT-SRV-ATTR:host']).toBeNull()
    } finally {
      await setAll('enabled')
    }
    const detail = await call(alice.session, 'GET', `${nova}/servers/${id}`)
    expect(detail.body.server.status).toBe('SHELVED_OFFLOADED')
  })

  it('unshelve from SHELVED_OFFLOADED schedules again and spawns from the shelved image', async () => {
    const t0 = Date.now()
    expect((await action({ unshelve: null })).status).toBe(202)
    const s = await waitFor('unshelved', async () => {
      const now = await server()
      return now.status === 'ACTIVE' ? now : undefined
    })
    process.stdout.write(`embedded unshelve (offloaded) -> ACTIVE: ${Date.now() - t0} ms\n`)
    const host = s['OS-EXT-SRV-ATTR:host'] as string
    expect(host).toMatch(/^r1-/)
    const unshelves = (await call(alice.session, 'GET', `${nova}/servers/${id}/os-instance-actions`)).body.instanceActions.filter((a: any) => a.action === 'unshelve')
    expect(unshelves).toHaveLength(2)
    expect(await fed.driverOf(host)?.getInfo(id)).toMatchObject({ powerState: 1 })
    expect(s.image.id).toBe(cirros)
    // As Nova does, the shelved image goes once the instance runs again.
    await waitFor('shelved image deleted', async () => {
      const images = (await call(alice.session, 'GET', `${glance}/v2/images`)).body.images as any[]
      return images.some((i) => i.name === 'keeper-shelved') ? undefined : true
    })
  })

  it('shelve then unshelve keeps nothing else of the instance from changing; the actions list names them all', async () => {
    const list = await call(alice.session, 'GET', `${nova}/servers/${id}/os-instance-actions`)
    const names = list.body.instanceActions.map((a: any) => a.action)
    for (const n of ['create', 'createImage', 'createBackup', 'rescue', 'unrescue', 'shelve', 'unshelve']) expect(names).toContain(n)
    const other = await createProjectUser(fed.api.urls.identity, admin, 'bob-shelve')
    expect((await action({ shelve: null }, other.session)).status).toBe(404)
  })
})
