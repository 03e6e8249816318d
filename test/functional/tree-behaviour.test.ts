import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

/** How the tree behaves around builds: capacity, events, cell0, down cells, actions. */
describe('embedded federation: tree behaviour', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let r1: string
  let r2: string
  let global: string
  let imageRef: string

  const boot = async (url: string, body: Record<string, unknown>): Promise<any> => {
    const res = await call(admin, 'POST', `${url}/servers`, { server: { imageRef, flavorRef: '1', ...body } })
    expect(res.status).toBe(202)
    return res.body
  }

  beforeAll(async () => {
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '200'
    process.env['FEDERATION_DOWN_AFTER_MS'] = '1500'
    cfg = embeddedConfig()
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    delete process.env['FEDERATION_DOWN_AFTER_MS']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    r1 = endpoint(admin, 'compute', 'region-one')
    r2 = endpoint(admin, 'compute', 'region-two')
    global = `${fed.api.urls.compute}/v2.1`
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('reports capacity upward promptly after a build claims resources', async () => {
    const region = (): { count: number; ram: number } => {
      const agg = fed.api.tree.regionAggregates('region-two')[0]
      return { count: agg?.flavorFits['5']?.count ?? -1, ram: agg?.ramFreeMb ?? -1 }
    }
    const before = region()
    expect(before.count).toBeGreaterThan(0)
    const { server } = await boot(r2, { name: 'big', flavorRef: '5' })
    await waitForStatus(admin, r2, server.id, 'ACTIVE')
    const after = await waitFor('capacity to drop', async () => (region().ram < before.ram ? region() : undefined), 5000)
    expect(before.ram - after.ram).toBe(16384)
    expect(after.count).toBe(before.count - 1)
  })

  it('creates several servers with min_count/max_count, named name-1..n, one reservation', async () => {
    const res = await call(admin, 'POST', `${r1}/servers`, { server: { name: 'multi', imageRef, flavorRef: '1', min_count: 3, max_count: 3, return_reservation_id: true } })
    expect(res.status).toBe(202)
    const rid = res.body.reservation_id as string
    expect(rid).toMatch(/^r-/)
    const list = await waitFor('3 servers', async () => {
      const l = await call(admin, 'GET', `${r1}/servers/detail?reservation_id=${rid}`)
      return l.body.servers.length === 3 && l.body.servers.every((s: any) => s.status === 'ACTIVE') ? l.body.servers : undefined
    })
    expect(list.map((s: any) => s.name).sort()).toEqual(['multi-1', 'multi-2', 'multi-3'])
  })

  it('runs the power actions through the state machine and refuses invalid transitions with 409', async () => {
    const { server } = await boot(r1, { name: 'actions' })
    const id = server.id as string
    await waitForStatus(admin, r1, id, 'ACTIVE')
    const act = (body: unknown): Promise<{ status: number; body: any }> => call(admin, 'POST', `${r1}/servers/${id}/action`, body)
    const unpause = await act({ unpause: null })
    expect(unpause.status).toBe(409)
    expect(unpause.body.conflictingRequest.message).toContain('unpause')
    const steps: Array<[unknown, string]> = [
      [{ 'os-stop': null }, 'SHUTOFF'],
      [{ 'os-start': null }, 'ACTIVE'],
      [{ reboot: { type: 'SOFT' } }, 'ACTIVE'],
      [{ pause: null }, 'PAUSED'],
      [{ unpause: null }, 'ACTIVE'],
      [{ suspend: null }, 'SUSPENDED'],
      [{ resume: null }, 'ACTIVE'],
      [{ reboot: { type: 'HARD' } }, 'ACTIVE'],
    ]
    for (const [body, status] of steps) {
      const r = await act(body)
      expect(r.status, JSON.stringify(body)).toBe(202)
      const s = await waitForStatus(admin, r1, id, status)
      expect(s['OS-EXT-STS:task_state']).toBeNull()
    }
    const bad = await act({ reboot: { type: 'SIDEWAYS' } })
    expect(bad.status).toBe(400)
    const actions = await call(admin, 'GET', `${r1}/servers/${id}/os-instance-actions`)
    expect(actions.body.instanceActions.map((a: any) => a.action)).toEqual(
      expect.arrayContaining(['create', 'stop', 'start', 'reboot', 'pause', 'unpause', 'suspend', 'resume']),
    )
  })

  it('applies instance events only when newer: replays and reordering change nothing', async () => {
    const { server } = await boot(r1, { name: 'versions' })
    const id = server.id as string
    await waitForStatus(admin, r1, id, 'ACTIVE')
    const row = await fed.api.db.selectFrom('instance_index').selectAll().where('uuid', '=', id).executeTakeFirstOrThrow()
    const stale = {
      instanceUuid: id,
      version: 1,
      cellPath: row.cell_path ?? '',
      payload: { uuid: id, projectId: row.project_id, userId: row.user_id, name: 'stale-name', vmState: 'building', taskState: 'spawning', powerState: 0, host: row.host, availabilityZone: null, flavorId: '1', imageRef, createdAt: 0, updatedAt: 0, deleted: false },
    }
    const cursor = (await fed.api.db.selectFrom('cells').select('event_cursor').where('path', '=', 'api!region-one').executeTakeFirstOrThrow()).event_cursor
    await fed.api.tree.applyEvents('api!region-one', [stale, stale], cursor)
    const after = await fed.api.db.selectFrom('instance_index').selectAll().where('uuid', '=', id).executeTakeFirstOrThrow()
    expect(after.version).toBe(row.version)
    expect(after.name).toBe('versions')
    expect(after.vm_state).toBe('active')
  })

  it('records a build no cell can take in cell0, in ERROR with a fault; delete works', async () => {
    const now = Date.now()
    await fed.api.db
      .insertInto('flavors')
      .values({ flavorid: 'huge', name: 'huge', memory_mb: 4_000_000, vcpus: 2, root_gb: 1, ephemeral_gb: 0, swap: 0, rxtx_factor: 1, is_public: 1, disabled: 0, description: null, created_at: now, updated_at: now })
      .execute()
    // The RAM quota would refuse it before any cell is asked (403): lift it for this project.
    expect((await call(admin, 'PUT', `${global}/os-quota-sets/${admin.projectId}`, { quota_set: { ram: -1 } })).status).toBe(200)
    const { server } = await boot(global, { name: 'too-big', flavorRef: 'huge' })
    const s = await waitForStatus(admin, global, server.id, 'ERROR')
    expect(s.fault.message).toContain('No valid host')
    expect(s.fault.code).toBe(500)
    const mapping = await fed.api.db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', server.id).executeTakeFirstOrThrow()
    expect(mapping.cell_path).toBe('cell0')
    expect((await call(admin, 'DELETE', `${global}/servers/${server.id}`)).status).toBe(204)
    expect((await call(admin, 'GET', `${global}/servers/${server.id}`)).status).toBe(404)
  })

  it('a cell that goes down is left out of scheduling and its instances show UNKNOWN', async () => {
    const { server } = await boot(r2, { name: 'in-r2' })
    await waitForStatus(admin, r2, server.id, 'ACTIVE')
    await fed.stopCell('api!region-two')
    await waitFor('region-two down', async () => (fed.api.tree.regionAggregates('region-two')[0]?.up === false ? true : undefined), 10_000)
    const list = await call(admin, 'GET', `${global}/servers/detail`)
    const mine = list.body.servers.find((s: any) => s.id === server.id)
    expect(mine.status).toBe('UNKNOWN')
    const other = list.body.servers.find((s: any) => s.name === 'versions')
    expect(other.status).toBe('ACTIVE')
    // A global boot now lands in region-one.
    const { server: next } = await boot(global, { name: 'after-outage' })
    const placed = await waitForStatus(admin, global, next.id, 'ACTIVE')
    expect(placed['OS-EXT-SRV-ATTR:host']).toMatch(/^r1-/)
    // A boot scoped to the dead region cannot go anywhere else: cell0.
    const { server: stuck } = await boot(r2, { name: 'nowhere' })
    await waitForStatus(admin, r2, stuck.id, 'ERROR')
  })
})
