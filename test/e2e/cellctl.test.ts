import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import type { Federation } from '../../bin/embedded.js'
import { COMMANDS } from '../../bin/cellctl/cli.js'
import type { CellRuntime } from '../../child-cell/runtime.js'
import { startCell } from '../../child-cell/runtime.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { createLogger } from '../../shared/logging.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

const BIN = resolve(import.meta.dirname, '../../dist/bin/cellctl.js')

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * `cellctl` as an operator runs it: the built binary in its own process, against an embedded
 * federation running in this test process, with settings from the clouds.yaml the federation wrote.
 */
describe('cellctl against an embedded federation', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let imageRef: string
  let adminEnv: Record<string, string>
  let adminApi: string
  const sandbox = mkdtempSync(join(tmpdir(), 'cellctl-home-'))
  const servers: string[] = []

  /** Runs the binary; never throws, whatever the exit code. Only `env` reaches it (plus PATH). */
  const cellctl = (args: readonly string[], env: Record<string, string> = adminEnv): Promise<Run> =>
    new Promise((done) => {
      execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: sandbox, ...env }, cwd: sandbox }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
        done({ code, stdout, stderr })
      })
    })
  const json = async (args: readonly string[]): Promise<any> => {
    const r = await cellctl([...args, '--format', 'json'])
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout)
  }
  /** A refusal: the exit code, and one line on stderr that is not a stack trace. */
  const refused = (r: Run, code: number, message: RegExp): void => {
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(code)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(r.stdout).toBe('')
  }
  const adminGet = async (path: string): Promise<any> => (await call(admin, 'GET', `${adminApi}${path}`)).body
  const boot = async (url: string, name: string): Promise<any> => {
    const res = await call(admin, 'POST', `${url}/servers`, { server: { name, imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    const s = await waitForStatus(admin, url, res.body.server.id, 'ACTIVE')
    servers.push(s.id)
    return s
  }

  beforeAll(async () => {
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '200'
    process.env['FEDERATION_DOWN_AFTER_MS'] = '1500'
    cfg = embeddedConfig()
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    delete process.env['FEDERATION_DOWN_AFTER_MS']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    adminEnv = { OS_CLIENT_CONFIG_FILE: fed.cloudsYaml, OS_CLOUD: 'federation' }
    adminApi = `${fed.api.urls.compute}/cell-admin/v1`
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
    removeDir(sandbox)
  })

  it('answers --help for the tool, a group and every command with exit 0', async () => {
    const top = await cellctl(['--help'], {})
    expect(top.code).toBe(0)
    for (const c of COMMANDS) expect(top.stdout).toContain(`cellctl ${c.name.join(' ')}`)
    const group = await cellctl(['cell', '--help'], {})
    expect(group.code).toBe(0)
    expect(group.stdout).toContain('cellctl cell delete PATH')
    const helps = await Promise.all(COMMANDS.map((c) => cellctl([...c.name, '--help'], {})))
    helps.forEach((h, i) => {
      const c = COMMANDS[i]!
      expect(h.code, c.name.join(' ')).toBe(0)
      expect(h.stdout.startsWith(`Usage: cellctl ${c.name.join(' ')}`)).toBe(true)
    })
  })

  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['cell', 'list', '--bogus'], /Unknown option '--bogus'/],
    [['cell', 'show'], /missing PATH/],
    [['--format', 'xml', 'cell', 'list'], /--format must be one of table, json, yaml/],
    [['cell', 'create', '--name', 'x'], /--parent is required/],
    [['cell', 'disable', 'api!region-one!dc1'], /--reason is required/],
    [['cell', 'update', 'api!region-two'], /nothing to update/],
    [['cell', 'update', 'api!region-two', '--weight-offset', 'heavy'], /--weight-offset must be a number/],
    [['db', 'sync', '--cell', 'api!region-two', '--api'], /--cell and --api exclude each other/],
    [['bootstrap'], /--admin-password is required/],
    [['host', 'delete', 'a', 'b'], /unexpected argument 'b'/],
  ])('refuses the bad command line %j with exit 2', async (argv, message) => {
    refused(await cellctl(argv), 2, message)
  })

  it('needs connection settings and an admin token', async () => {
    refused(await cellctl(['cell', 'list'], {}), 2, /missing connection settings .*set OS_CLOUD/)
    refused(await cellctl(['cell', 'list'], { ...adminEnv, OS_CLOUD: 'elsewhere' }), 2, /cloud elsewhere not found/)
    refused(await cellctl(['cell', 'list'], { ...adminEnv, OS_PASSWORD: 'wrong' }), 1, /authentication failed .*HTTP 401/)
    const ks = `${fed.api.urls.identity}/v3`
    const project = await call(admin, 'POST', `${ks}/projects`, { project: { name: 'viewers', domain_id: 'default' } })
    const user = await call(admin, 'POST', `${ks}/users`, { user: { name: 'viewer', password: 'viewer-pw', domain_id: 'default' } })
    const member = (await call(admin, 'GET', `${ks}/roles?name=member`)).body.roles[0].id
    expect((await call(admin, 'PUT', `${ks}/projects/${project.body.project.id}/users/${user.body.user.id}/roles/${member}`)).status).toBe(204)
    const viewer = {
      OS_AUTH_URL: ks,
      OS_USERNAME: 'viewer',
      OS_PASSWORD: 'viewer-pw',
      OS_PROJECT_NAME: 'viewers',
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
    }
    refused(await cellctl(['cell', 'list'], viewer), 1, /^cellctl: error: Policy doesn't allow cells:list to be performed\. \(HTTP 403, request req-/)
    refused(await cellctl(['cell', 'disable', 'api!region-two', '--reason', 'x'], viewer), 1, /HTTP 403/)
    expect((await adminGet('/cells/api!region-two')).cell.state).toBe('up')
  })

  it('lists the cells flat (table and json) and as a tree (table and yaml)', async () => {
    await waitFor('every cell reporting', async () => ((await adminGet('/cells')).cells.every((c: any) => c.state === 'up') ? true : undefined))
    const table = await cellctl(['cell', 'list'])
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/│ PATH\s+│ REGION\s+│ STATE\s+│ HOSTS UP\/TOTAL │/)
    expect(table.stdout).toMatch(/│ api!region-one!dc1\s+│ region-one\s+│ up\s+│ 4\/4\s+│/)
    const { cells } = await json(['cell', 'list'])
    expect(cells.map((c: any) => c.path)).toEqual(['api!region-one', 'api!region-one!dc1', 'api!region-one!dc2', 'api!region-two'])
    expect(cells.find((c: any) => c.path === 'api!region-one')).toMatchObject({ state: 'up', hosts_up: 8, hosts_total: 8 })
    expect(cells[0].report_age_s).toBeGreaterThanOrEqual(0)
    const tree = await cellctl(['cell', 'tree'])
    expect(tree.stdout).toMatch(/│ api!region-one\s+│[\s\S]*│ ├─ dc1\s+│[\s\S]*│ └─ dc2\s+│[\s\S]*│ api!region-two\s+│/)
    const yaml = await cellctl(['cell', 'tree', '--format', 'yaml'])
    const doc = parse(yaml.stdout)
    expect(doc.tree.map((n: any) => n.path)).toEqual(['api!region-one', 'api!region-two'])
    expect(doc.tree[0].children.map((n: any) => n.name)).toEqual(['dc1', 'dc2'])
  })

  it('shows one cell; an unknown path fails with exit 1', async () => {
    const show = await cellctl(['cell', 'show', 'api!region-two'])
    expect(show.code).toBe(0)
    expect(show.stdout).toMatch(/│ state\s+│ up\s+│/)
    expect(show.stdout).toMatch(/│ hosts up\/total\s+│ 4\/4\s+│/)
    refused(await cellctl(['cell', 'show', 'api!nowhere']), 1, /^cellctl: error: Cell api!nowhere is not registered\. \(HTTP 404/)
    refused(await cellctl(['cell', 'show', 'Not A Path']), 1, /Invalid cell path: must be a cell path .*HTTP 400/)
  })

  it('lists hosts, all or one cell', async () => {
    const all = await json(['host', 'list'])
    expect(all.hosts).toHaveLength(12)
    expect(all.hosts.every((h: any) => h.mapped_cell === h.cell_path && h.state === 'up')).toBe(true)
    const r2 = await json(['host', 'list', '--cell', 'api!region-two'])
    expect(r2.hosts.map((h: any) => h.host).sort()).toEqual(['r2-c1', 'r2-c2', 'r2-c3', 'r2-c4'])
    const table = await cellctl(['host', 'list', '--cell', 'api!region-one!dc1'])
    expect(table.stdout).toMatch(/│ r1-dc1-c1\s+│ api!region-one!dc1\s+│ yes\s+│ up\s+│ no\s+│/)
    refused(await cellctl(['host', 'list', '--cell', 'api!region-nine']), 1, /not registered/)
  })

  it('shows per cell how many of a flavor fit', async () => {
    const cap = await json(['capacity', '--flavor', 'm1.xlarge'])
    expect(cap.flavors).toEqual([{ id: '5', name: 'm1.xlarge' }])
    const dc1 = cap.cells.find((c: any) => c.path === 'api!region-one!dc1')
    expect(dc1.fits['m1.xlarge']).toBeGreaterThan(0)
    const r1 = cap.cells.find((c: any) => c.path === 'api!region-one')
    const dc2 = cap.cells.find((c: any) => c.path === 'api!region-one!dc2')
    expect(r1.fits['m1.xlarge']).toBe(dc1.fits['m1.xlarge'] + dc2.fits['m1.xlarge'])
    const table = await cellctl(['capacity'])
    expect(table.stdout).toMatch(/│ CELL\s+│ STATE │ m1\.tiny\s+│ m1\.small │/)
    refused(await cellctl(['capacity', '--flavor', 'm9.huge']), 1, /Flavor m9\.huge could not be found\. \(HTTP 404/)
  })

  it('disables a leaf and a region at once for new builds, and enables them again', async () => {
    const r1 = endpoint(admin, 'compute', 'region-one')
    const off = await cellctl(['cell', 'disable', 'api!region-one!dc1', '--reason', 'power work'])
    expect(off.code, off.stderr).toBe(0)
    expect(off.stdout).toMatch(/│ state\s+│ disabled\s+│/)
    expect(off.stdout).toMatch(/│ disabled reason\s+│ power work\s+│/)
    for (const name of ['while-dc1-off-1', 'while-dc1-off-2']) expect((await boot(r1, name))['OS-EXT-SRV-ATTR:host']).toMatch(/^r1-dc2-/)
    // The leaf itself was told: its own report says so, as its parent sees it.
    await waitFor('dc1 reporting disabled', async () => (fed.api.tree.reports().find((c) => c.path === 'api!region-one!dc1')?.disabled ? true : undefined))
    expect((await cellctl(['cell', 'enable', 'api!region-one!dc1'])).code).toBe(0)
    expect((await adminGet('/cells/api!region-one!dc1')).cell).toMatchObject({ state: 'up', disabled_reason: null })

    const global = `${fed.api.urls.compute}/v2.1`
    expect((await cellctl(['cell', 'disable', 'api!region-two', '--reason', 'migration'])).code).toBe(0)
    expect((await boot(global, 'while-r2-off'))['OS-EXT-SRV-ATTR:host']).toMatch(/^r1-/)
    expect((await cellctl(['cell', 'enable', 'api!region-two'])).code).toBe(0)
    await waitFor('region-two enabled in its report', async () => (fed.api.tree.reports().find((c) => c.path === 'api!region-two')?.disabled === false ? true : undefined))
    refused(await cellctl(['cell', 'disable', 'api!nowhere', '--reason', 'x']), 1, /HTTP 404/)
  })

  it('updates the name and weight offset of a region and of a leaf', async () => {
    const r = await json(['cell', 'update', 'api!region-two', '--weight-offset', '5', '--name', 'Region Two'])
    expect(r.cell).toMatchObject({ path: 'api!region-two', name: 'Region Two', weight_offset: 5 })
    expect(r.warnings).toEqual([])
    const leaf = await json(['cell', 'update', 'api!region-one!dc2', '--weight-offset', '-1'])
    expect(leaf.cell.weight_offset).toBe(-1)
    expect(leaf.warnings).toEqual([])
    await json(['cell', 'update', 'api!region-two', '--weight-offset', '0', '--name', 'region-two'])
    await json(['cell', 'update', 'api!region-one!dc2', '--weight-offset', '0'])
  })

  it('refuses to delete a cell that has hosts, instances or children, even with --force', async () => {
    refused(await cellctl(['cell', 'delete', 'api!region-one!dc1']), 1, /Cell api!region-one!dc1 still has 4 compute host\(s\) and \d+ live instance\(s\)/)
    refused(await cellctl(['cell', 'delete', 'api!region-one!dc2', '--force']), 1, /live instance/)
    refused(await cellctl(['cell', 'delete', 'api!region-one']), 1, /has child cells \(api!region-one!dc1, api!region-one!dc2\)/)
    refused(await cellctl(['cell', 'delete', 'api!nowhere']), 1, /HTTP 404/)
    expect((await json(['cell', 'list'])).cells).toHaveLength(4)
  })

  it('creates a cell under an intermediate cell, sees it report, and deletes it when empty', async () => {
    let extra: CellRuntime | undefined
    try {
      // The new cell's certificate first (the CA is in the state dir): its agent serves with it.
      const cert = await cellctl(['pki', 'issue', 'api!region-one!dc3', '--state-dir', cfg.stateDir])
      expect(cert.code, cert.stderr).toBe(0)
      expect(cert.stdout).toMatch(/^Issued the certificate of api!region-one!dc3 /)
      extra = await startCell({
        cell: { name: 'dc3', path: 'api!region-one!dc3', region: 'region-one', availabilityZone: 'dc3', weightOffset: 0, grpcPort: undefined, grpcListen: undefined, grpcAddress: undefined, hosts: [], children: [] },
        roles: ['conductor', 'agent'],
        databaseUrl: `sqlite:${join(cfg.stateDir, 'cells', 'extra-dc3.db')}`,
        transportUrl: 'memory://extra!dc3',
        listenAddress: '127.0.0.1:0',
        children: [],
        driver: 'fake',
        stateDir: join(cfg.stateDir, 'cells', 'extra-dc3'),
        hostIp: '127.0.0.1',
        timing: cfg.timing,
        scheduler: cfg.scheduler,
        pki: cfg.pki,
        log: createLogger('extra-dc3'),
      })
      const made = await cellctl(['cell', 'create', '--parent', 'api!region-one', '--name', 'dc3', '--grpc-address', `127.0.0.1:${extra.agentPort}`, '--weight-offset', '2', '--state-dir', cfg.stateDir])
      expect(made.code, made.stderr).toBe(0)
      expect(made.stdout).toMatch(/│ path\s+│ api!region-one!dc3\s+│/)
      expect(made.stdout).toContain('The certificate of api!region-one!dc3 is in place.')
      await waitFor('dc3 up', async () => ((await adminGet('/cells/api!region-one!dc3')).cell.state === 'up' ? true : undefined), 15_000)
      const tree = await cellctl(['cell', 'tree'])
      expect(tree.stdout).toMatch(/│ ├─ dc2\s+│[\s\S]*│ └─ dc3\s+│ region-one\s+│ up\s+│ 0\/0/)
      refused(await cellctl(['cell', 'create', '--parent', 'api!region-one', '--name', 'dc3', '--grpc-address', '127.0.0.1:1']), 1, /already exists\. \(HTTP 409/)
      const gone = await cellctl(['cell', 'delete', 'api!region-one!dc3'])
      expect(gone.code, gone.stderr).toBe(0)
      expect(gone.stdout).toBe('Deleted cell api!region-one!dc3.\n')
      await waitFor('region-one to stop reporting dc3', async () => (fed.api.tree.reports().some((c) => c.path === 'api!region-one!dc3') ? undefined : true), 15_000)
    } finally {
      await extra?.stop()
    }
  })

  it('creates a region that cannot be reached; deleting it needs --force', async () => {
    const made = await json(['cell', 'create', '--parent', 'api', '--name', 'region-three', '--grpc-address', '127.0.0.1:1'])
    expect(made.cell).toMatchObject({ path: 'api!region-three', region: 'region-three', state: 'down', report_age_s: null })
    refused(await cellctl(['cell', 'create', '--parent', 'api', '--name', 'Bad_Name', '--grpc-address', '127.0.0.1:1']), 1, /Invalid request body: cell\.name: .*HTTP 400/)
    refused(await cellctl(['cell', 'create', '--parent', 'api!nowhere', '--name', 'x', '--grpc-address', '127.0.0.1:1']), 1, /Parent cell api!nowhere is not registered/)
    refused(await cellctl(['cell', 'delete', 'api!region-three']), 1, /Cannot confirm that cell api!region-three is empty .*--force/)
    const gone = await cellctl(['cell', 'delete', 'api!region-three', '--force'])
    expect(gone.code, gone.stderr).toBe(0)
    expect((await json(['cell', 'list'])).cells.map((c: any) => c.path)).not.toContain('api!region-three')
  })

  it('deletes a host mapping, discovers it again once even when run concurrently, and refuses busy hosts', async () => {
    const busy = ((await json(['host', 'list', '--cell', 'api!region-one!dc2'])).hosts as any[]).find((h) => h.instances > 0)
    const idle = ((await json(['host', 'list', '--cell', 'api!region-two'])).hosts as any[]).find((h) => h.instances === 0)
    expect(busy).toBeDefined()
    expect(idle).toBeDefined()
    refused(await cellctl(['host', 'delete', busy.host]), 1, /still has \d+ live instance\(s\)/)
    const del = await cellctl(['host', 'delete', idle.host])
    expect(del.code, del.stderr).toBe(0)
    expect(del.stdout).toBe(`Deleted the mapping of host ${idle.host} (cell api!region-two).\n`)
    expect((await json(['host', 'list'])).hosts.find((h: any) => h.host === idle.host).mapped_cell).toBeNull()
    const runs = await Promise.all([0, 1, 2].map(() => cellctl(['host', 'discover', '--format', 'json'])))
    for (const r of runs) expect(r.code, r.stderr).toBe(0)
    const found = runs.flatMap((r) => JSON.parse(r.stdout).discovered)
    expect(found).toEqual([{ host: idle.host, cell_path: 'api!region-two' }])
    const again = await cellctl(['host', 'discover'])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('Discovered 0 new host(s); 12 already mapped.')
    expect(again.stderr).toBe('')
    refused(await cellctl(['host', 'delete', 'no-such-host']), 1, /Host no-such-host is not mapped\. \(HTTP 404/)
  })

  it('verifies instances: present in their leaf, missing there, or not mapped', async () => {
    const id = servers[0]!
    const ok = await cellctl(['instance', 'verify', id])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/│ cell\s+│ api!region-one!dc2\s+│/)
    expect(ok.stdout).toMatch(/│ present in cell\s+│ yes\s+│/)
    const ghost = crypto.randomUUID()
    await fed.api.db
      .insertInto('instance_mappings')
      .values({ instance_uuid: ghost, cell_path: 'api!region-one!dc1', project_id: admin.projectId, user_id: 'u', region: null, queued_for_delete: 0, created_at: Date.now() })
      .execute()
    const missing = await cellctl(['instance', 'verify', ghost, '--format', 'json'])
    expect(missing.code).toBe(1)
    expect(JSON.parse(missing.stdout).instance).toMatchObject({ cell_path: 'api!region-one!dc1', present: false, detail: 'cell api!region-one!dc1 does not have it' })
    refused(await cellctl(['instance', 'verify', crypto.randomUUID()]), 1, /has no mapping\. \(HTTP 404/)
    refused(await cellctl(['instance', 'verify', 'not-a-uuid']), 1, /has no mapping/)
  })

  it('maps cell0 once', async () => {
    const first = await cellctl(['cell0', 'map'])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toMatch(/^cell0 mapped\./m)
    const second = await cellctl(['cell0', 'map'])
    expect(second.stdout).toMatch(/^cell0 was already mapped\./m)
    const cell0 = (await json(['cell', 'list'])).cells.find((c: any) => c.path === 'cell0')
    expect(cell0).toMatchObject({ state: 'up', uuid: '00000000-0000-0000-0000-000000000000' })
    expect(cell0.database_url).toContain('cell0.db')
    refused(await cellctl(['cell', 'disable', 'cell0', '--reason', 'x']), 1, /cell0 takes no builds/)
  })

  it('syncs the databases and bootstraps the admin directly from the config', async () => {
    const local = ['--mode', 'embedded', '--state-dir', cfg.stateDir]
    const api = await cellctl(['db', 'sync', '--api', ...local])
    expect(api.code, api.stderr).toBe(0)
    expect(api.stdout).toMatch(/│ api\s+│ sqlite:.*api\.db\s+│ up to date\s+│/)
    expect(api.stdout).toMatch(/│ cell0\s+│/)
    const all = await json(['db', 'sync', ...local])
    expect(all.databases.map((d: any) => d.database)).toEqual(['api', 'cell0', 'api!region-one', 'api!region-one!dc1', 'api!region-one!dc2', 'api!region-two'])
    expect(all.databases.every((d: any) => d.applied.length === 0 && d.total > 0)).toBe(true)
    const fresh = mkdtempSync(join(tmpdir(), 'cellctl-fresh-'))
    try {
      const one = await json(['db', 'sync', '--cell', 'api!region-two', '--mode', 'embedded', '--state-dir', fresh])
      expect(one.databases[0].applied.length).toBeGreaterThan(0)
      const boot = await json(['bootstrap', '--admin-password', 'fresh-pw', '--mode', 'embedded', '--state-dir', fresh])
      expect(boot).toMatchObject({ created_admin: true, flavors_added: 5 })
      expect(JSON.stringify(boot)).not.toContain('fresh-pw')
    } finally {
      removeDir(fresh)
    }
    const reset = await cellctl(['bootstrap', '--admin-password', 'secret-admin-pw', ...local])
    expect(reset.code, reset.stderr).toBe(0)
    expect(reset.stdout).toContain('password reset')
    expect((await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')).token).not.toBe('')
    refused(await cellctl(['db', 'sync', '--cell', 'api!nowhere', ...local]), 1, /cell api!nowhere is neither in .* nor registered/)
    refused(await cellctl(['db', 'sync', '--mode', 'cloudy']), 2, /--mode must be production or embedded/)
  })
})
