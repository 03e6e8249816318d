import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import type { CellLink } from '../../shared/cell-link/types.js'
import { systemContext } from '../../shared/context.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

/** `client` with its `build` replaced (the other methods still reach the real client). */
function withBuild<T extends CellLink>(client: T, build: CellLink['build']): T {
  return new Proxy(client, {
    get: (target, prop) => {
      if (prop === 'build') return build
      const v: unknown = Reflect.get(target, prop, target)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
}

/**
 * Unshelve of a SHELVED_OFFLOADED server into another cell or region (api-cell/scheduler/
 * unshelve-mover.ts), in the embedded federation: the uuid is kept, the mapping and the index move,
 * the old cell keeps no live record, the server runs from its shelved image and shows its own.
 */
describe('embedded federation: unshelve into another cell', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let alice: ProjectUser
  let global: string
  let glance: string
  let cirros: string

  const server = async (id: string): Promise<any> => (await call(admin, 'GET', `${global}/servers/${id}`, undefined, mv('2.1'))).body.server
  const settle = (id: string, status: string): Promise<any> =>
    waitFor(`server ${id} ${status} and idle`, async () => {
      const s = await server(id)
      if (s.status === 'ERROR') throw new Error(`ERROR: ${JSON.stringify(s.fault)}`)
      return s.status === status && s['OS-EXT-STS:task_state'] === null ? s : undefined
    })
  const mapping = async (id: string) => fed.api.db.selectFrom('instance_mappings').selectAll().where('instance_uuid', '=', id).executeTakeFirstOrThrow()
  const indexRow = async (id: string) => fed.api.db.selectFrom('instance_index').selectAll().where('uuid', '=', id).executeTakeFirstOrThrow()
  const moves = async () => fed.api.db.selectFrom('unshelve_moves').selectAll().execute()
  const recordIn = async (cellPath: string, id: string): Promise<any> =>
    ((await fed.api.tree.clientFor(cellPath).getInstances(systemContext(10_000), { cellPath, uuids: [id] })) as any[])[0]

  /** Whether `host`'s hypervisor has a guest of `id`. */
  const runsOn = async (host: string, id: string): Promise<boolean> => {
    const driver = fed.driverOf(host)
    return driver === undefined ? false : driver.getInfo(id).then(() => true, () => false)
  }
  /** Boots a server through `region`'s endpoint and shelves it until it is offloaded. */
  const offloadedServer = async (name: string, region: string): Promise<{ id: string; cell: string; shelvedImage: string }> => {
    const nova = endpoint(alice.session, 'compute', region)
    const res = await call(alice.session, 'POST', `${nova}/servers`, { server: { name, imageRef: cirros, flavorRef: '1' } })
    expect(res.status).toBe(202)
    const id = res.body.server.id as string
    await settle(id, 'ACTIVE')
    expect((await call(alice.session, 'POST', `${global}/servers/${id}/action`, { shelve: {} })).status).toBe(202)
    await settle(id, 'SHELVED_OFFLOADED')
    const m = await mapping(id)
    const rec = await recordIn(m.cell_path ?? '', id)
    return { id, cell: m.cell_path ?? '', shelvedImage: rec.shelvedImageId as string }
  }

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    alice = await createProjectUser(fed.api.urls.identity, admin, 'alice-unshelve')
    global = endpoint(alice.session, 'compute', 'federation')
    glance = endpoint(alice.session, 'image', 'region-one')
    cirros = (await call(alice.session, 'GET', `${glance}/v2/images?name=cirros`)).body.images[0].id
  }, 60_000)

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('2.77 availability_zone of another region: same uuid, mapping and index moved, old cell has no live record, ACTIVE with its image', async () => {
    const { id, cell, shelvedImage } = await offloadedServer('mover', 'region-one')
    expect(cell.startsWith('api!region-one!')).toBe(true)
    const res = await call(alice.session, 'POST', `${global}/servers/${id}/action`, { unshelve: { availability_zone: 'region-two-az' } }, mv('2.77'))
    expect(res.status).toBe(202)
    const s = await settle(id, 'ACTIVE')
    expect(s.id).toBe(id)
    expect(s.image.id).toBe(cirros)
    expect(s['OS-EXT-AZ:availability_zone']).toBe('region-two-az')
    const full = (await call(admin, 'GET', `${global}/servers/${id}`, undefined, mv('2.3'))).body.server
    expect(full['OS-EXT-SRV-ATTR:host']).toMatch(/^r2-c/)
    expect((await mapping(id)).cell_path).toBe('api!region-two')
    expect((await indexRow(id)).cell_path).toBe('api!region-two')
    // The guest runs on its new host, from the shelved snapshot.
    expect(await runsOn(full['OS-EXT-SRV-ATTR:host'], id)).toBe(true)
    await waitFor('the move is over', async () => ((await moves()).length === 0 ? true : undefined))
    expect((await recordIn(cell, id)).deleted).toBe(true)
    expect((await recordIn('api!region-two', id)).deleted).toBe(false)
    // Nova deletes the shelved image once the instance is unshelved.
    await waitFor('shelved image deleted', async () => ((await call(alice.session, 'GET', `${glance}/v2/images/${shelvedImage}`)).status === 404 ? true : undefined))
    const actions = (await call(alice.session, 'GET', `${global}/servers/${id}/os-instance-actions`)).body.instanceActions
    expect(actions.map((a: any) => a.action)).toContain('unshelve')
    // Still the user's server, listed once.
    const list = (await call(alice.session, 'GET', `${global}/servers`)).body.servers.filter((x: any) => x.id === id)
    expect(list).toHaveLength(1)
    // And it works where it landed: stop goes to the new cell.
    expect((await call(alice.session, 'POST', `${global}/servers/${id}/action`, { 'os-stop': null })).status).toBe(202)
    await settle(id, 'SHUTOFF')
  })

  it('2.91 host in another region (admin): lands on that host, mapping moved', async () => {
    const { id, cell } = await offloadedServer('to-host', 'region-two')
    expect(cell).toBe('api!region-two')
    const res = await call(admin, 'POST', `${global}/servers/${id}/action`, { unshelve: { host: 'r1-dc2-c3' } }, mv('2.91'))
    expect(res.status).toBe(202)
    await settle(id, 'ACTIVE')
    const full = (await call(admin, 'GET', `${global}/servers/${id}`, undefined, mv('2.3'))).body.server
    expect(full['OS-EXT-SRV-ATTR:host']).toBe('r1-dc2-c3')
    expect((await mapping(id)).cell_path).toBe('api!region-one!dc2')
    await waitFor('the move is over', async () => ((await moves()).length === 0 ? true : undefined))
    expect((await recordIn('api!region-two', id)).deleted).toBe(true)
  })

  it('while a move is in flight, the new copy speaks for the instance and is no orphan; once the move is gone, it would be', async () => {
    const nova = endpoint(alice.session, 'compute', 'region-two')
    const res = await call(alice.session, 'POST', `${nova}/servers`, { server: { name: 'copy', imageRef: cirros, flavorRef: '1' } })
    const id = res.body.server.id as string
    await settle(id, 'ACTIVE')
    // The API's view half-way through a move from dc1 into region-two: mapped to dc1 still.
    await fed.api.db.updateTable('instance_mappings').set({ cell_path: 'api!region-one!dc1' }).where('instance_uuid', '=', id).execute()
    await fed.api.db
      .insertInto('unshelve_moves')
      .values({ instance_uuid: id, source_cell: 'api!region-one!dc1', target_cell: 'api!region-two', target_host: null, step: 'placing', ranked: '[]', spec: '{}', created_at: Date.now() })
      .execute()
    // Until the mapping moves, other actions are 409 (another project's server is still a 404).
    expect((await call(alice.session, 'POST', `${global}/servers/${id}/action`, { 'os-stop': null })).status).toBe(409)
    expect((await call(alice.session, 'DELETE', `${global}/servers/${id}`)).status).toBe(409)
    const bob = await createProjectUser(fed.api.urls.identity, admin, 'bob-unshelve')
    expect((await call(bob.session, 'POST', `${global}/servers/${id}/action`, { 'os-stop': null })).status).toBe(404)
    const lockAndWait = async (action: 'lock' | 'unlock') => {
      const v0 = (await indexRow(id)).version
      await fed.api.tree.clientFor('api!region-two').instanceAction(systemContext(10_000), { cellPath: 'api!region-two', instanceUuid: id, action, args: {} })
      return v0
    }
    for (const action of ['lock', 'unlock'] as const) {
      // Each event of the copy is applied (not dropped as foreign); a second action on the copy
      // finds it alive, so the first event did not have it deleted as an orphan.
      const v0 = await lockAndWait(action)
      await waitFor('the copy’s event applied', async () => ((await indexRow(id)).version > v0 ? true : undefined))
    }
    await fed.api.tree.reconcile()
    // Neither the events nor anti-entropy deleted the copy.
    expect(await recordIn('api!region-two', id)).toMatchObject({ deleted: false, taskState: null, locked: false })
    // Without the move, the same copy is an orphan (the mapping names another cell) and goes.
    await fed.api.db.deleteFrom('unshelve_moves').where('instance_uuid', '=', id).execute()
    await lockAndWait('lock')
    await waitFor('the orphan deleted', async () => ((await recordIn('api!region-two', id)).deleted === true ? true : undefined))
  })

  it('a lost answer (outcome unknown) asks the same cell again: one copy, no duplicate', async () => {
    const { id, cell } = await offloadedServer('lost-answer', 'region-one')
    const tree = fed.api.tree
    const real = tree.clientFor.bind(tree)
    let builds = 0
    // The region places the instance, then the answer is lost on the way back, twice.
    tree.clientFor = (path: string) => {
      const client = real(path)
      if (path !== 'api!region-two') return client
      return withBuild(client, async (...args) => {
        builds += 1
        const out = await client.build(...args)
        if (builds <= 2) {
          // Lost once the guest runs (a re-ask while the first spawn is still under way races it in
          // the compute host: not what this test is about).
          await waitFor('the copy running', async () => ((await recordIn('api!region-two', id))?.vmState === 'active' ? true : undefined))
          throw new Error('connection reset: the answer was lost')
        }
        return out
      })
    }
    try {
      expect((await call(alice.session, 'POST', `${global}/servers/${id}/action`, { unshelve: { availability_zone: 'region-two-az' } }, mv('2.77'))).status).toBe(202)
      await settle(id, 'ACTIVE')
      await waitFor('the move is over', async () => ((await moves()).length === 0 ? true : undefined))
    } finally {
      tree.clientFor = real
    }
    expect(builds).toBe(3)
    expect((await mapping(id)).cell_path).toBe('api!region-two')
    expect((await recordIn('api!region-two', id)).deleted).toBe(false)
    expect((await recordIn(cell, id)).deleted).toBe(true)
    // One guest, on one host.
    const all = ['r1-dc1-c1', 'r1-dc1-c2', 'r1-dc1-c3', 'r1-dc1-c4', 'r1-dc2-c1', 'r1-dc2-c2', 'r1-dc2-c3', 'r1-dc2-c4', 'r2-c1', 'r2-c2', 'r2-c3', 'r2-c4']
    const running: string[] = []
    for (const h of all) if (await runsOn(h, id)) running.push(h)
    expect(running).toHaveLength(1)
    expect(running[0]).toMatch(/^r2-c/)
  })

  it('the region asked first refuses: the build goes to the next one', async () => {
    const { id, cell } = await offloadedServer('refused-first', 'region-one')
    const tree = fed.api.tree
    const real = tree.clientFor.bind(tree)
    const realReports = tree.reports.bind(tree)
    const asked: string[] = []
    // The owner cell reports no room for the flavor, so the global scheduler ranks the regions.
    tree.reports = () => realReports().map((c) => (c.path === cell ? { ...c, flavorFits: {} } : c))
    tree.clientFor = (path: string) => {
      const client = real(path)
      return withBuild(client, async (...args) => {
        asked.push(path)
        if (asked.length === 1) return { accepted: false as const, reason: 'no room after all' }
        return client.build(...args)
      })
    }
    try {
      expect((await call(alice.session, 'POST', `${global}/servers/${id}/action`, { unshelve: null }, mv('2.77'))).status).toBe(202)
      await settle(id, 'ACTIVE')
      await waitFor('the move is over', async () => ((await moves()).length === 0 ? true : undefined))
    } finally {
      tree.clientFor = real
      tree.reports = realReports
    }
    expect(asked).toHaveLength(2)
    expect(asked[1]).not.toBe(asked[0])
    const landed = (await mapping(id)).cell_path ?? ''
    expect(landed.startsWith(asked[1] ?? '-')).toBe(true)
    expect(landed).not.toBe(cell)
    expect((await recordIn(cell, id)).deleted).toBe(true)
  })

  it('every other region refuses: the instance is unshelved in its own cell after all', async () => {
    const { id, cell } = await offloadedServer('stays-home', 'region-one')
    const tree = fed.api.tree
    const real = tree.clientFor.bind(tree)
    const realReports = tree.reports.bind(tree)
    let refused = 0
    tree.reports = () => realReports().map((c) => (c.path === cell ? { ...c, flavorFits: {} } : c))
    tree.clientFor = (path: string) =>
      withBuild(real(path), async () => {
        refused += 1
        return { accepted: false as const, reason: 'full' }
      })
    try {
      expect((await call(alice.session, 'POST', `${global}/servers/${id}/action`, { unshelve: null }, mv('2.77'))).status).toBe(202)
      await settle(id, 'ACTIVE')
    } finally {
      tree.clientFor = real
      tree.reports = realReports
    }
    expect(refused).toBeGreaterThan(0)
    expect((await mapping(id)).cell_path).toBe(cell)
    expect(await moves()).toEqual([])
    expect((await recordIn(cell, id)).deleted).toBe(false)
  })

  it('unknown availability zone or host, or a host outside the zone: 400, and nothing changes', async () => {
    const { id, cell } = await offloadedServer('stays', 'region-one')
    const before = await indexRow(id)
    const bad: Array<[Session, unknown, string, string]> = [
      [alice.session, { unshelve: { availability_zone: 'no-such-az' } }, '2.77', 'The requested availability zone is not available'],
      [admin, { unshelve: { host: 'no-such-host' } }, '2.91', 'Compute host no-such-host could not be found.'],
      [admin, { unshelve: { host: 'r2-c1', availability_zone: 'dc1' } }, '2.91', "Host 'r2-c1' is not in availability zone 'dc1'."],
    ]
    for (const [who, body, v, message] of bad) {
      const r = await call(who, 'POST', `${global}/servers/${id}/action`, body, mv(v))
      expect(r.status).toBe(400)
      expect(r.body.badRequest.message).toBe(message)
    }
    expect(await moves()).toEqual([])
    const after = await indexRow(id)
    expect({ vm: after.vm_state, task: after.task_state, cell: after.cell_path, version: after.version }).toEqual({ vm: before.vm_state, task: null, cell: cell, version: before.version })
    const s = await server(id)
    expect(s.status).toBe('SHELVED_OFFLOADED')
    expect(s.fault).toBeUndefined()
  })
})
