import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { CrossCellMoves } from '../../api-cell/compute/cross-cell/saga.js'
import { systemContext } from '../../shared/context.js'
import { createLogger } from '../../shared/logging.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

/** The built cellctl (npm run build), as test/e2e/cellctl.test.ts runs it. */
const CELLCTL = resolve(import.meta.dirname, '../../dist/bin/cellctl.js')
const R1_DC2 = 'api!region-one!dc2'
const R2 = 'api!region-two'
const R1_HOSTS = ['r1-dc1-c1', 'r1-dc1-c2', 'r1-dc1-c3', 'r1-dc1-c4', 'r1-dc2-c1', 'r1-dc2-c2', 'r1-dc2-c3', 'r1-dc2-c4']
const R2_HOSTS = ['r2-c1', 'r2-c2', 'r2-c3', 'r2-c4']

/**
 * Cold migration and resize across cells and regions, as a saga driven by the API cell. Ground
 * truth: the guests each host's driver holds, the instance mapping and index rows of the API DB,
 * and the saga's row (cross_cell_migrations).
 */
describe('moves across cells and regions', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let member: ProjectUser
  let api: string
  let r1: string
  let r2: string
  let imageRef: string

  const guestsOf = async (uuid: string, hosts: readonly string[]): Promise<string[]> => {
    const found: string[] = []
    for (const h of hosts) if ((await fed.driverOf(h)?.listInstances())?.includes(uuid)) found.push(h)
    return found
  }
  const boot = async (url: string, name: string, flavorRef = '1'): Promise<any> => {
    const res = await call(member.session, 'POST', `${url}/servers`, { server: { name, imageRef, flavorRef } })
    expect(res.status).toBe(202)
    return waitForStatus(member.session, url, res.body.server.id, 'ACTIVE')
  }
  const action = (s: Session, id: string, body: unknown, version = '2.56') => call(s, 'POST', `${api}/servers/${id}/action`, body, mv(version))
  const show = async (id: string): Promise<any> => (await call(admin, 'GET', `${api}/servers/${id}`, undefined, mv('2.47'))).body.server
  const where = async (uuid: string): Promise<{ mapping: string | null; index: string | null }> => {
    const m = await fed.api.db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', uuid).executeTakeFirstOrThrow()
    const i = await fed.api.db.selectFrom('instance_index').select('cell_path').where('uuid', '=', uuid).executeTakeFirstOrThrow()
    return { mapping: m.cell_path, index: i.cell_path }
  }
  const saga = (uuid: string) => fed.api.db.selectFrom('cross_cell_migrations').selectAll().where('instance_uuid', '=', uuid).orderBy('created_at', 'desc').executeTakeFirstOrThrow()
  const setServices = async (hosts: readonly string[], status: 'enable' | 'disable'): Promise<void> => {
    for (const host of hosts) expect((await call(admin, 'PUT', `${api}/os-services/${status}`, { host, binary: 'nova-compute' })).status).toBe(200)
  }

  beforeAll(async () => {
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '300'
    process.env['FEDERATION_DOWN_AFTER_MS'] = '1500'
    process.env['FEDERATION_CROSS_CELL_RESIZE'] = 'any'
    cfg = embeddedConfig(undefined, { driver: 'fake' })
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    delete process.env['FEDERATION_DOWN_AFTER_MS']
    delete process.env['FEDERATION_CROSS_CELL_RESIZE']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    api = endpoint(admin, 'compute', 'federation')
    r1 = endpoint(admin, 'compute', 'region-one')
    r2 = endpoint(admin, 'compute', 'region-two')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-two')}/v2/images?name=cirros`)).body.images[0].id
    member = await createProjectUser(fed.api.urls.identity, admin, 'xcell')
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('migrates a server from region one to a named host of region two, keeping its uuid; confirm removes the source copy', async () => {
    const server = await boot(r1, 'travel')
    const source = (await guestsOf(server.id, R1_HOSTS))[0]
    expect(source).toBeDefined()
    expect((await action(admin, server.id, { migrate: { host: 'r2-c2' } })).status).toBe(202)
    const resized = await waitForStatus(admin, api, server.id, 'VERIFY_RESIZE')
    expect(resized.id).toBe(server.id)
    expect(resized['OS-EXT-SRV-ATTR:host']).toBe('r2-c2')
    expect(await where(server.id)).toEqual({ mapping: R2, index: R2 })
    // Anti-entropy and orphan removal leave both copies of a move under way alone.
    await fed.api.tree.reconcile()
    await new Promise((r) => setTimeout(r, 700))
    expect(await where(server.id)).toEqual({ mapping: R2, index: R2 })
    // Until confirm the source keeps its (stopped) copy; the target runs the new one.
    expect(await guestsOf(server.id, ['r2-c2'])).toEqual(['r2-c2'])
    expect(await guestsOf(server.id, R1_HOSTS)).toEqual([source])
    // Region two's endpoint now lists it; region one's does not.
    const ids = async (url: string): Promise<string[]> => (await call(member.session, 'GET', `${url}/servers`)).body.servers.map((x: any) => x.id)
    expect(await ids(r2)).toContain(server.id)
    expect(await ids(r1)).not.toContain(server.id)
    expect((await action(admin, server.id, { confirmResize: null })).status).toBe(204)
    const active = await waitForStatus(admin, api, server.id, 'ACTIVE')
    expect(active['OS-EXT-SRV-ATTR:host']).toBe('r2-c2')
    await waitFor('saga confirmed', async () => ((await saga(server.id)).status === 'confirmed' ? true : undefined))
    expect(await guestsOf(server.id, R1_HOSTS)).toEqual([])
    // The migration shows in the server's migrations and os-migrations, as a cross-cell one.
    const list = await call(admin, 'GET', `${api}/os-migrations?instance_uuid=${server.id}`, undefined, mv('2.80'))
    expect(list.status).toBe(200)
    const m = list.body.migrations.find((x: any) => x.instance_uuid === server.id)
    expect(m).toMatchObject({ status: 'confirmed', migration_type: 'migration', dest_compute: 'r2-c2', source_compute: source })
    const actions = await call(admin, 'GET', `${api}/servers/${server.id}/os-instance-actions`)
    // The actions came along from the source cell (create), with the move's and the confirm's.
    expect(actions.body.instanceActions.map((a: any) => a.action).sort()).toEqual(['confirmResize', 'create', 'migrate'])
    const migrateAction = actions.body.instanceActions.find((a: any) => a.action === 'migrate')
    const detail = await call(admin, 'GET', `${api}/servers/${server.id}/os-instance-actions/${migrateAction.request_id}`, undefined, mv('2.51'))
    expect(detail.body.instanceAction.events.map((e: any) => e.event)).toEqual(expect.arrayContaining(['conductor_migrate_server', 'compute_prep_snapshot_based_resize_at_dest']))
    expect(detail.body.instanceAction.events.every((e: any) => e.result === 'Success')).toBe(true)
  })

  it('resizes to another cell when its own has no valid host, and confirm keeps the new flavor', async () => {
    const server = await boot(r2, 'grow-elsewhere')
    await setServices(R2_HOSTS, 'disable')
    try {
      expect((await action(member.session, server.id, { resize: { flavorRef: '2' } })).status).toBe(202)
      await waitForStatus(member.session, api, server.id, 'VERIFY_RESIZE')
      expect((await show(server.id)).flavor.original_name).toBe('m1.small')
      expect((await where(server.id)).mapping).not.toBe(R2)
      expect((await action(member.session, server.id, { confirmResize: {} })).status).toBe(204)
      await waitFor('saga confirmed', async () => ((await saga(server.id)).status === 'confirmed' ? true : undefined))
      expect(await guestsOf(server.id, R2_HOSTS)).toEqual([])
      expect((await show(server.id)).flavor.original_name).toBe('m1.small')
    } finally {
      await setServices(R2_HOSTS, 'enable')
    }
  })

  it('reverts a cross-cell resize: the target copy goes, the source runs again and keeps the mapping', async () => {
    const server = await boot(r2, 'grow-and-back')
    const source = (await guestsOf(server.id, R2_HOSTS))[0]
    await setServices(R2_HOSTS, 'disable')
    try {
      expect((await action(member.session, server.id, { resize: { flavorRef: '2' } })).status).toBe(202)
      await waitForStatus(member.session, api, server.id, 'VERIFY_RESIZE')
      const target = (await saga(server.id)).target_cell
      expect(target).not.toBe(R2)
      expect((await action(member.session, server.id, { revertResize: {} })).status).toBe(202)
      await waitFor('saga reverted', async () => ((await saga(server.id)).status === 'reverted' ? true : undefined))
      await waitForStatus(member.session, api, server.id, 'ACTIVE')
      expect((await show(server.id)).flavor.original_name).toBe('m1.tiny')
      expect(await where(server.id)).toEqual({ mapping: R2, index: R2 })
      expect(await guestsOf(server.id, R2_HOSTS)).toEqual([source])
      expect(await guestsOf(server.id, R1_HOSTS)).toEqual([])
    } finally {
      await setServices(R2_HOSTS, 'enable')
    }
  })

  it('a target that refuses leaves the server ACTIVE in its source cell, nothing kept in the target', async () => {
    const server = await boot(r1, 'refused')
    const source = (await guestsOf(server.id, R1_HOSTS))[0]
    const cell = (await where(server.id)).mapping
    await setServices(['r2-c3'], 'disable')
    try {
      expect((await action(admin, server.id, { migrate: { host: 'r2-c3' } })).status).toBe(202)
      await waitFor('saga failed', async () => ((await saga(server.id)).status === 'error' ? true : undefined))
      const after = await waitForStatus(admin, api, server.id, 'ACTIVE')
      expect(after['OS-EXT-SRV-ATTR:host']).toBe(source)
      expect(await where(server.id)).toEqual({ mapping: cell, index: cell })
      expect(await guestsOf(server.id, R2_HOSTS)).toEqual([])
      expect(await guestsOf(server.id, R1_HOSTS)).toEqual([source])
    } finally {
      await setServices(['r2-c3'], 'enable')
    }
  })

  it('a target cell down while preparing is asked again when it returns: one copy, no duplicate', async () => {
    const server = await boot(r1, 'patient')
    await fed.stopCell(R2)
    try {
      expect((await action(admin, server.id, { migrate: { host: 'r2-c4' } })).status).toBe(202)
      await new Promise((r) => setTimeout(r, 1500))
      expect((await saga(server.id)).status).toBe('preparing')
      expect((await show(server.id)).status).toBe('RESIZE')
    } finally {
      await fed.restartCell(R2)
    }
    await waitForStatus(admin, api, server.id, 'VERIFY_RESIZE', 60_000)
    expect(await guestsOf(server.id, R2_HOSTS)).toEqual(['r2-c4'])
    expect((await action(admin, server.id, { confirmResize: {} })).status).toBe(204)
    await waitFor('saga confirmed', async () => ((await saga(server.id)).status === 'confirmed' ? true : undefined))
    const index = await fed.api.db.selectFrom('instance_index').select('cell_path').where('uuid', '=', server.id).execute()
    expect(index).toEqual([{ cell_path: R2 }])
  })

  it('a source cell down during confirm: the server is ACTIVE in its target, the source copy goes when the cell returns', async () => {
    const server = await boot(r2, 'leaving')
    expect((await action(admin, server.id, { migrate: { host: 'r1-dc2-c1' } })).status).toBe(202)
    await waitForStatus(admin, api, server.id, 'VERIFY_RESIZE')
    const source = (await guestsOf(server.id, R2_HOSTS))[0]
    expect(source).toBeDefined()
    await fed.stopCell(R2)
    try {
      expect((await action(admin, server.id, { confirmResize: {} })).status).toBe(204)
      await waitForStatus(admin, api, server.id, 'ACTIVE')
      expect((await saga(server.id)).status).toBe('confirming')
      expect(await where(server.id)).toEqual({ mapping: R1_DC2, index: R1_DC2 })
    } finally {
      await fed.restartCell(R2)
    }
    await waitFor('saga confirmed', async () => ((await saga(server.id)).status === 'confirmed' ? true : undefined), 60_000)
    expect((await show(server.id))['OS-EXT-SRV-ATTR:host']).toBe('r1-dc2-c1')
    expect(await where(server.id)).toEqual({ mapping: R1_DC2, index: R1_DC2 })
  })
  it('drains a cell: disabled for builds, every instance moved out and confirmed, the cell left empty', async () => {
    const dc1 = 'api!region-one!dc1'
    const ids: string[] = []
    for (const name of ['drain-a', 'drain-b']) {
      const res = await call(member.session, 'POST', `${r1}/servers`, { server: { name, imageRef, flavorRef: '1', availability_zone: 'dc1' } })
      expect(res.status).toBe(202)
      ids.push(res.body.server.id)
    }
    for (const id of ids) await waitForStatus(member.session, api, id, 'ACTIVE')
    for (const id of ids) expect((await where(id)).mapping).toBe(dc1)
    const admin_ = `${fed.api.urls.compute}/cell-admin/v1/cells/${encodeURIComponent(dc1)}`
    const started = await call(admin, 'POST', `${admin_}/drain`, {})
    expect(started.status).toBe(202)
    expect(started.body.drain.failed).toEqual([])
    expect(started.body.drain.total).toBeGreaterThanOrEqual(2)
    const done = await waitFor(
      'drain done',
      async () => {
        const p = await call(admin, 'GET', `${admin_}/drain?since=${started.body.drain.started_at}`)
        return p.body.drain.moving === 0 ? p.body.drain : undefined
      },
      60_000,
    )
    expect(done).toMatchObject({ remaining: 0, failed: [] })
    expect(done.moved).toBe(started.body.drain.total)
    for (const id of ids) {
      const s = await waitForStatus(member.session, api, id, 'ACTIVE')
      expect(s.id).toBe(id)
      expect((await where(id)).mapping).not.toBe(dc1)
    }
    expect(await guestsOf(ids[0] ?? '', R1_HOSTS.filter((h) => h.startsWith('r1-dc1')))).toEqual([])
    const cell = await call(admin, 'GET', admin_)
    expect(cell.body.cell.state).toBe('disabled')
    // cellctl on the drained cell: nothing left to move, exit 0.
    const cli = await new Promise<{ code: number; stdout: string }>((resolve) => {
      const env = { PATH: process.env['PATH'] ?? '', OS_CLIENT_CONFIG_FILE: fed.cloudsYaml, OS_CLOUD: 'federation' }
      execFile(process.execPath, [CELLCTL, 'cell', 'drain', dc1, '--wait', '--format', 'json'], { env }, (err, stdout) => resolve({ code: err === null ? 0 : Number(err.code ?? 1), stdout }))
    })
    expect(cli.code).toBe(0)
    expect(JSON.parse(cli.stdout).drain).toMatchObject({ cell: dc1, remaining: 0, moving: 0, failed: [] })
    // A bad path is a 4xx, nothing started.
    expect((await call(admin, 'POST', `${fed.api.urls.compute}/cell-admin/v1/cells/cell0/drain`, {})).status).toBe(400)
    expect((await call(member.session, 'POST', `${admin_}/drain`, {})).status).toBe(403)
  })
  it('deleting a server in VERIFY_RESIZE after a cross-cell move removes both copies', async () => {
    const server = await boot(r2, 'short-lived')
    const source = (await guestsOf(server.id, R2_HOSTS))[0]
    expect(source).toBeDefined()
    expect((await action(admin, server.id, { migrate: { host: 'r1-dc2-c2' } })).status).toBe(202)
    await waitForStatus(admin, api, server.id, 'VERIFY_RESIZE')
    expect((await call(member.session, 'DELETE', `${api}/servers/${server.id}`)).status).toBe(204)
    await waitFor('saga ended', async () => ((await saga(server.id)).status === 'error' ? true : undefined))
    await waitFor('both guests gone', async () => ((await guestsOf(server.id, [...R2_HOSTS, 'r1-dc2-c2'])).length === 0 ? true : undefined))
    await waitFor('server gone', async () => ((await call(member.session, 'GET', `${api}/servers/${server.id}`)).status === 404 ? true : undefined))
  })
  // Last: it stops the API's own saga driver, as an API process that stops would.
  it('an API restart resumes an unfinished move from its last step', async () => {
    const server = await boot(r1, 'resumed')
    await fed.stopCell(R2)
    expect((await action(admin, server.id, { migrate: { host: 'r2-c3' } })).status).toBe(202)
    await waitFor('saga preparing', async () => ((await saga(server.id)).status === 'preparing' ? true : undefined))
    await fed.api.crossCell.stop()
    await fed.restartCell(R2)
    const restarted = new CrossCellMoves({ db: fed.api.db, tree: fed.api.tree, log: createLogger('test') })
    try {
      expect(await restarted.resumeAll()).toBe(1)
      await waitForStatus(admin, api, server.id, 'VERIFY_RESIZE', 60_000)
      expect(await where(server.id)).toEqual({ mapping: R2, index: R2 })
      await restarted.confirm(systemContext(), await saga(server.id))
      await waitFor('saga confirmed', async () => ((await saga(server.id)).status === 'confirmed' ? true : undefined), 60_000)
      expect(await guestsOf(server.id, [...R1_HOSTS, ...R2_HOSTS])).toEqual(['r2-c3'])
    } finally {
      await restarted.stop()
    }
  })
})
