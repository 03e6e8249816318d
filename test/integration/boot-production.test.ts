import * as grpc from '@grpc/grpc-js'
import { execFileSync } from 'node:child_process'
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callCellAs } from '../helpers/cell-peer.js'
import type { ProductionFederation } from '../helpers/production.js'
import { startProduction } from '../helpers/production.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

/**
 * Production mode: one OS process per service (API; per cell agent, conductor, scheduler, compute),
 * MariaDB (one schema per cell) and RabbitMQ (one vhost per cell), supervised.
 */
describe('production federation over MariaDB and RabbitMQ', () => {
  let fed: ProductionFederation
  let admin: Session
  let imageRef: string
  const ids: string[] = []

  beforeAll(async () => {
    fed = await startProduction()
    admin = await login(fed.identityUrl, 'admin', 'secret-admin-pw', 'admin')
    const images = await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)
    imageRef = images.body.images[0].id
  }, 120_000)

  afterAll(async () => {
    await fed?.stop()
  }, 60_000)

  it('runs each service as its own process', () => {
    expect(fed.pids('api-cell/main.js')).toHaveLength(1)
    for (const role of ['conductor', 'scheduler', 'compute', 'agent']) {
      expect(fed.pids(`--role ${role}`, '--cell api!region-two ').length, role).toBe(1)
    }
    expect(fed.pids('--role scheduler', '--cell api!region-one ')).toHaveLength(0)
  })

  it('gives every service its own least-privilege credentials, in its environment only', () => {
    const file = join(fed.stateDir, 'service-credentials.json')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const passwords = Object.values(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)
    expect(passwords.length).toBeGreaterThan(10)
    const ps = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' })
    for (const pw of passwords) expect(ps).not.toContain(pw)
    const envOf = (pid: number): Map<string, string> =>
      new Map(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    const userOf = (url: string | undefined): string => decodeURIComponent(new URL(url ?? 'x://none').username)
    for (const role of ['compute', 'agent']) {
      const [pid] = fed.pids(`--role ${role}`, '--cell api!region-two ')
      const env = envOf(pid as number)
      expect(env.has('FEDERATION_DATABASE_URL'), role).toBe(false)
      expect(userOf(env.get('FEDERATION_TRANSPORT_URL'))).toMatch(new RegExp(`^${fed.prefix}\\.api\\.region-two/${role}`))
    }
    const [conductor] = fed.pids('--role conductor', '--cell api!region-two ')
    const env = envOf(conductor as number)
    expect(userOf(env.get('FEDERATION_DATABASE_URL'))).toMatch(new RegExp(`^${fed.prefix}_[0-9a-f]+_conductor$`))
    expect(userOf(env.get('FEDERATION_TRANSPORT_URL'))).toBe(`${fed.prefix}.api.region-two/conductor`)
    const [api] = fed.pids('api-cell/main.js')
    expect(userOf(envOf(api as number).get('FEDERATION_DATABASE_URL'))).toBe(`${fed.prefix}_api`)
    // No broker user but the cell's own has rights on its vhost (not guest).
    const perms = execFileSync('rabbitmqctl', ['-q', 'list_permissions', '-p', `${fed.prefix}.api.region-two`, '--no-table-headers'], { encoding: 'utf8' })
    const users = perms.split('\n').filter((l) => l.trim() !== '').map((l) => l.split('\t')[0])
    expect(users.sort()).toEqual(['agent', 'compute/r2-c1+r2-c2+r2-c3+r2-c4', 'conductor', 'scheduler'].map((r) => `${fed.prefix}.api.region-two/${r}`).sort())
  })

  it('links the cell processes with mutual TLS only: outsiders are refused by an agent process', async () => {
    const pkiDir = join(fed.stateDir, 'pki')
    expect(statSync(pkiDir).mode & 0o777).toBe(0o700)
    expect(statSync(join(pkiDir, 'ca.key')).mode & 0o777).toBe(0o600)
    expect(statSync(join(pkiDir, 'cells', 'api.region-two', 'tls.key')).mode & 0o777).toBe(0o600)
    const sql = `SELECT grpc_address FROM ${fed.prefix}_api.cells WHERE path = 'api!region-two'`
    const address = execFileSync('mysql', ['-h127.0.0.1', '-uroot', '-N', '-e', sql], { encoding: 'utf8' }).trim()
    const req = { cell_path: 'api!region-two', op: 'set_disabled', args_json: '{"disabled":true}' }
    expect((await callCellAs({ pkiDir, address, as: undefined, rpc: 'CellAdmin', req }))?.code).toBe(grpc.status.UNAVAILABLE)
    expect((await callCellAs({ pkiDir, address, as: 'api!region-one', rpc: 'CellAdmin', req }))?.code).toBe(grpc.status.PERMISSION_DENIED)
    // The API cell, its parent, is served (a harmless read).
    expect(await callCellAs({ pkiDir, address, as: 'api', rpc: 'ListHosts', req: {} })).toBeNull()
  })

  it.each([
    ['region-one', /^r1-dc[12]-/],
    ['region-two', /^r2-/],
  ])('boots a server to ACTIVE in %s', async (region, hostPattern) => {
    const url = endpoint(admin, 'compute', region)
    const t0 = Date.now()
    const res = await call(admin, 'POST', `${url}/servers`, { server: { name: `prod-${region}`, imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    const server = await waitForStatus(admin, url, res.body.server.id, 'ACTIVE', 60_000)
    process.stdout.write(`production POST->ACTIVE ${region}: ${Date.now() - t0} ms\n`)
    expect(server['OS-EXT-SRV-ATTR:host']).toMatch(hostPattern)
    ids.push(server.id)
  })

  it('loses no accepted build when the compute process is killed', async () => {
    const url = endpoint(admin, 'compute', 'region-two')
    const [pid] = fed.pids('--role compute', '--cell api!region-two ')
    expect(pid).toBeGreaterThan(0)
    process.kill(pid!, 'SIGKILL')
    const res = await call(admin, 'POST', `${url}/servers`, { server: { name: 'survivor', imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    // The spawn cast waits in the host's durable queue until the supervisor restarts compute.
    const server = await waitForStatus(admin, url, res.body.server.id, 'ACTIVE', 60_000)
    expect(server['OS-EXT-SRV-ATTR:host']).toMatch(/^r2-/)
    const [again] = fed.pids('--role compute', '--cell api!region-two ')
    expect(again).toBeGreaterThan(0)
    expect(again).not.toBe(pid)
    expect(fed.output()).toContain('process exited; restarting')
    ids.push(server.id)
  })

  it('lists and deletes through the tree', async () => {
    const list = await call(admin, 'GET', `${fed.computeUrl}/servers/detail`)
    expect(new Set(list.body.servers.map((s: any) => s.id))).toEqual(new Set(ids))
    for (const id of ids) expect((await call(admin, 'DELETE', `${fed.computeUrl}/servers/${id}`)).status).toBe(204)
    let left: unknown[] = []
    await waitFor('all gone', async () => {
      const l = await call(admin, 'GET', `${fed.computeUrl}/servers/detail`)
      left = l.body.servers.map((s: any) => [s.id, s.status, s['OS-EXT-STS:task_state'], s['OS-EXT-SRV-ATTR:host']])
      return l.body.servers.length === 0 ? true : undefined
    }, 40_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; left: ${JSON.stringify(left)}`)
    })
  })

  it('keeps the admin password off the console, and every state dir and file private', () => {
    expect(fed.output()).not.toContain('secret-admin-pw')
    expect(fed.output()).toContain('password as set in ADMIN_PASSWORD')
    const open: string[] = []
    const walk = (dir: string): void => {
      const m = lstatSync(dir).mode & 0o777
      if (m !== 0o700) open.push(`${dir} ${m.toString(8)}`)
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name)
        if (e.isDirectory()) walk(path)
        else if (e.isFile() && (lstatSync(path).mode & 0o777) !== 0o600) open.push(`${path} ${(lstatSync(path).mode & 0o777).toString(8)}`)
      }
    }
    walk(fed.stateDir)
    expect(readdirSync(fed.stateDir)).toEqual(expect.arrayContaining(['clouds.yaml', 'token-secret', 'images']))
    expect(open).toEqual([])
  })
})
