import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { CellSchema } from '../../child-cell/db/schema.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import type { Database } from '../../shared/db/database.js'
import { openDatabase } from '../../shared/db/database.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

/**
 * Issue #9 (4): the index converges. Index rows dropped, made stale (a lost delete event) or
 * corrupted (a version the leaf never reached) at the API cell, and relayed rows dropped at an
 * intermediate cell, are repaired by the periodic anti-entropy pass to equal the leaves' truth.
 */
describe('embedded federation: index anti-entropy', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let imageRef: string
  let global: string
  let regionOneDb: Database<CellSchema>
  const servers: Array<{ id: string; region: string }> = []

  beforeAll(async () => {
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '200'
    process.env['FEDERATION_ANTI_ENTROPY_INTERVAL_MS'] = '300'
    cfg = embeddedConfig()
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    delete process.env['FEDERATION_ANTI_ENTROPY_INTERVAL_MS']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    global = `${fed.api.urls.compute}/v2.1`
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    for (const region of ['region-one', 'region-one', 'region-two', 'region-two', 'region-one']) {
      const url = endpoint(admin, 'compute', region)
      const res = await call(admin, 'POST', `${url}/servers`, { server: { name: `ae-${servers.length}`, imageRef, flavorRef: '1' } })
      expect(res.status).toBe(202)
      servers.push({ id: res.body.server.id, region })
    }
    for (const s of servers) await waitForStatus(admin, global, s.id, 'ACTIVE')
    regionOneDb = await openDatabase<CellSchema>(`sqlite:${join(cfg.stateDir, 'cells', 'api.region-one.db')}`)
  })

  afterAll(async () => {
    await regionOneDb?.close()
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  /** What the index lists (status, task state) per server, and what the leaves say. */
  const listed = async (): Promise<Map<string, string>> => {
    const l = await call(admin, 'GET', `${global}/servers/detail`)
    expect(l.status).toBe(200)
    return new Map(l.body.servers.map((s: any) => [s.id, `${s.status}/${s['OS-EXT-STS:task_state']}`]))
  }
  const truth = async (): Promise<Map<string, string>> => {
    const out = new Map<string, string>()
    for (const s of servers) {
      const r = await call(admin, 'GET', `${global}/servers/${s.id}`)
      if (r.status === 200) out.set(s.id, `${r.body.server.status}/${r.body.server['OS-EXT-STS:task_state']}`)
      else expect(r.status).toBe(404)
    }
    return out
  }
  const leafVersions = async (): Promise<Map<string, number>> => {
    const out = new Map<string, number>()
    for (const region of ['api!region-one', 'api!region-two']) {
      for (const v of await fed.api.tree.clientFor(region).listInstanceVersions({ requestId: 'req-test' } as never, { afterUuid: '', limit: 1000 })) out.set(v.uuid, v.version)
    }
    return out
  }
  const converged = async (): Promise<boolean | undefined> => {
    const [l, t] = [await listed(), await truth()]
    if (l.size !== t.size) return undefined
    for (const [id, st] of t) if (l.get(id) !== st) return undefined
    const versions = await leafVersions()
    const rows = await fed.api.db.selectFrom('instance_index').select(['uuid', 'version']).where('uuid', 'in', servers.map((s) => s.id)).execute()
    return rows.length === servers.length && rows.every((r) => versions.get(r.uuid) === r.version) ? true : undefined
  }

  it('repairs dropped, stale and corrupt index rows at the API cell', async () => {
    expect(await waitFor('index equal to the leaves', converged, 10_000)).toBe(true)
    const [dropped, stale, corrupt] = servers
    // (The pass runs every 300 ms, so the broken state is checked where it was written, not listed.)
    const hits = [
      await fed.api.db.deleteFrom('instance_index').where('uuid', '=', dropped!.id).executeTakeFirst().then((r) => r.numDeletedRows),
      await fed.api.db.updateTable('instance_index').set({ vm_state: 'building', task_state: 'spawning', version: 1 }).where('uuid', '=', stale!.id).executeTakeFirst().then((r) => r.numUpdatedRows),
      await fed.api.db.updateTable('instance_index').set({ vm_state: 'error', version: 999_999 }).where('uuid', '=', corrupt!.id).executeTakeFirst().then((r) => r.numUpdatedRows),
    ]
    expect(hits.map(Number)).toEqual([1, 1, 1])
    expect(await waitFor('index repaired', converged, 20_000)).toBe(true)
    expect((await listed()).get(corrupt!.id)).toBe('ACTIVE/null')
  })

  it('repairs a lost delete event: the server leaves the list', async () => {
    const victim = servers[3]!
    const before = await fed.api.db.selectFrom('instance_index').selectAll().where('uuid', '=', victim.id).executeTakeFirstOrThrow()
    expect((await call(admin, 'DELETE', `${global}/servers/${victim.id}`)).status).toBe(204)
    await waitFor('deleted at the leaf', async () => ((await call(admin, 'GET', `${global}/servers/${victim.id}`)).status === 404 ? true : undefined))
    await waitFor('delete event applied', async () => ((await listed()).has(victim.id) ? undefined : true))
    // The finding's state: the row back at `deleting` with the version before the last event.
    const hit = await fed.api.db.updateTable('instance_index').set({ ...before, task_state: 'deleting' }).where('uuid', '=', victim.id).executeTakeFirst()
    expect(Number(hit.numUpdatedRows)).toBe(1)
    await waitFor('lost delete repaired', async () => ((await listed()).has(victim.id) ? undefined : true), 20_000)
    expect(await waitFor('index equal to the leaves', converged, 20_000)).toBe(true)
  })

  it('repairs an intermediate cell index, and ships the repair up', async () => {
    const inRegionOne = servers.filter((s) => s.region === 'region-one').map((s) => s.id)
    const rows = await regionOneDb.db.selectFrom('instance_index').selectAll().where('uuid', 'in', inRegionOne).execute()
    expect(rows.length).toBe(inRegionOne.length)
    // Both levels lose the instance: region-one's relay index and the API's index.
    expect(Number((await regionOneDb.db.deleteFrom('instance_index').where('uuid', 'in', inRegionOne).executeTakeFirst()).numDeletedRows)).toBe(inRegionOne.length)
    await fed.api.db.updateTable('instance_index').set({ vm_state: 'building', version: 0 }).where('uuid', 'in', inRegionOne).execute()
    await waitFor(
      'region-one index repaired',
      async () => ((await regionOneDb.db.selectFrom('instance_index').select('uuid').where('uuid', 'in', inRegionOne).execute()).length === inRegionOne.length ? true : undefined),
      20_000,
    )
    expect(await waitFor('index equal to the leaves', converged, 20_000)).toBe(true)
  })
})
