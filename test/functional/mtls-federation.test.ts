import * as grpc from '@grpc/grpc-js'
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { connect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { cellIdentityFiles, pkiLayout } from '../../shared/pki/pki-layout.js'
import { callCellAs } from '../helpers/cell-peer.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

const BIN = resolve(import.meta.dirname, '../../dist/bin/cellctl.js')
const CELLS = ['api', 'api!region-one', 'api!region-one!dc1', 'api!region-one!dc2', 'api!region-two']

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * A whole embedded federation over mutual TLS: the PKI the launcher creates, real agents refusing
 * callers that are not their parent, and a certificate renewal while the federation keeps serving.
 */
describe('embedded federation over mutual TLS', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let r1: string
  let imageRef: string
  const sandbox = mkdtempSync(join(tmpdir(), 'mtls-home-'))

  const cellctl = (args: readonly string[], env: Record<string, string> = {}): Promise<Run> =>
    new Promise((done) => {
      execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: sandbox, ...env }, cwd: sandbox }, (err, stdout, stderr) => {
        done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
      })
    })
  const addressOf = async (path: string): Promise<string> =>
    (await fed.api.db.selectFrom('cells').select('grpc_address').where('path', '=', path).executeTakeFirstOrThrow()).grpc_address ?? ''
  const files = (path: string) => cellIdentityFiles(cfg.pki.dir, path)
  const fingerprintOf = (path: string): string => new X509Certificate(readFileSync(files(path).cert)).fingerprint256

  /** The certificate a cell's gRPC server presents now, to a new connection (as the API cell). */
  const servedFingerprint = async (path: string): Promise<string> => {
    const [host, port] = (await addressOf(path)).split(':')
    const me = files('api')
    return new Promise((done, fail) => {
      const s = connect({ host, port: Number(port), ca: readFileSync(me.caCert), key: readFileSync(me.key), cert: readFileSync(me.cert), ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }, () => {
        done(s.getPeerX509Certificate()?.fingerprint256 ?? '')
        s.destroy()
      })
      s.on('error', fail)
    })
  }
  /** One unary call as `path` (or with no certificate), straight to a cell's agent. */
  const callAs = async (path: string | undefined, target: string, rpc: string, req: object): Promise<grpc.ServiceError | null> =>
    callCellAs({ pkiDir: cfg.pki.dir, address: await addressOf(target), as: path, rpc, req })
  const boot = async (name: string): Promise<string> => {
    const res = await call(admin, 'POST', `${r1}/servers`, { server: { name, imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    return (await waitForStatus(admin, r1, res.body.server.id, 'ACTIVE')).id
  }

  beforeAll(async () => {
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '200'
    process.env['FEDERATION_CERT_REFRESH_MS'] = '200'
    cfg = embeddedConfig()
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    delete process.env['FEDERATION_CERT_REFRESH_MS']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    r1 = endpoint(admin, 'compute', 'region-one')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
    removeDir(sandbox)
  })

  it('creates the CA and one certificate per cell, keys 0600 in 0700 directories', () => {
    const mode = (p: string): number => statSync(p).mode & 0o777
    expect(mode(cfg.pki.dir)).toBe(0o700)
    expect(mode(pkiLayout(cfg.pki.dir).caKey)).toBe(0o600)
    for (const path of CELLS) {
      expect(mode(files(path).dir), path).toBe(0o700)
      expect(mode(files(path).key), path).toBe(0o600)
      expect(new X509Certificate(readFileSync(files(path).cert)).subjectAltName).toBe(`URI:spiffe://cells-federation/cell/${path.split('!').join('/')}`)
    }
  })

  it('lists the certificates with cellctl, and refuses bad pki command lines', async () => {
    const list = await cellctl(['pki', 'list', '--state-dir', cfg.stateDir, '--format', 'json'])
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout).certificates.map((c: any) => c.path)).toEqual([...CELLS].sort())
    const again = await cellctl(['pki', 'init', '--state-dir', cfg.stateDir])
    expect(again.stdout).toMatch(/^Kept the existing federation CA in /)
    expect(readFileSync(pkiLayout(cfg.pki.dir).caCert, 'utf8')).toContain('BEGIN CERTIFICATE')
    const cases: Array<[string[], number, RegExp]> = [
      [['pki', 'issue', 'Region!One', '--state-dir', cfg.stateDir], 2, /is not a cell path/],
      [['pki', 'issue', 'api!x', '--days', 'forever', '--state-dir', cfg.stateDir], 2, /--days must be a whole number/],
      [['pki', 'renew', 'api!nowhere', '--state-dir', cfg.stateDir], 1, /api!nowhere has no certificate in .* to renew/],
      [['pki', 'issue', 'api!x', '--state-dir', join(sandbox, 'empty')], 1, /no federation CA in /],
    ]
    for (const [argv, code, message] of cases) {
      const r = await cellctl(argv)
      expect(r.code, argv.join(' ')).toBe(code)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    const issue = await cellctl(['pki', 'issue', 'api!region-two', '--state-dir', cfg.stateDir])
    expect(issue.stdout).toMatch(/is in place; nothing issued/)
  })

  it('cellctl cell create issues the new cell its certificate where the CA is, and warns where it is not', async () => {
    const env = { OS_CLIENT_CONFIG_FILE: fed.cloudsYaml, OS_CLOUD: 'federation' }
    const made = await cellctl(['cell', 'create', '--parent', 'api', '--name', 'region-nine', '--grpc-address', '127.0.0.1:1', '--state-dir', cfg.stateDir], env)
    expect(made.code, made.stderr).toBe(0)
    expect(made.stdout).toMatch(/Issued the certificate of api!region-nine: .*tls\.crt/)
    expect(statSync(files('api!region-nine').key).mode & 0o777).toBe(0o600)
    expect(new X509Certificate(readFileSync(files('api!region-nine').cert)).subjectAltName).toBe('URI:spiffe://cells-federation/cell/api/region-nine')
    const elsewhere = await cellctl(['cell', 'create', '--parent', 'api', '--name', 'region-ten', '--grpc-address', '127.0.0.1:1', '--state-dir', join(sandbox, 'no-ca')], env)
    expect(elsewhere.code, elsewhere.stderr).toBe(0)
    expect(elsewhere.stderr).toMatch(/^warning: no federation CA in .*cellctl pki issue api!region-ten/)
    for (const path of ['api!region-nine', 'api!region-ten']) expect((await cellctl(['cell', 'delete', path, '--force'], env)).code).toBe(0)
  })

  it('a real agent refuses a caller without a certificate, and a cell that is not its parent', async () => {
    const noCert = await callAs(undefined, 'api!region-one', 'GetInstances', { cell_path: 'api!region-one!dc1', uuids: [] })
    expect(noCert?.code).toBe(grpc.status.UNAVAILABLE)
    const before = Date.now()
    // The API cell is dc1's grandparent: it must go through region-one.
    const skip = await callAs('api', 'api!region-one!dc1', 'CellAdmin', { cell_path: 'api!region-one!dc1', op: 'set_disabled', args_json: '{"disabled":true}' })
    expect(skip?.code).toBe(grpc.status.PERMISSION_DENIED)
    const sibling = await callAs('api!region-one!dc2', 'api!region-one!dc1', 'AckEvents', { parent_path: 'api!region-one!dc2', cursor: 1_000_000 })
    expect(sibling?.code).toBe(grpc.status.PERMISSION_DENIED)
    const child = await callAs('api!region-one!dc1', 'api!region-one', 'ListHosts', {})
    expect(child?.code).toBe(grpc.status.PERMISSION_DENIED)
    // dc1 was not disabled: its next report says so.
    const fresh = await waitFor('a report of dc1 after the refused call', async () => fed.api.tree.reports().find((c) => c.path === 'api!region-one!dc1' && c.generatedAtMs > before), 15_000)
    expect(fresh.disabled).toBe(false)
    // And the parent itself is served.
    expect(await callAs('api', 'api!region-one', 'ListHosts', {})).toBeNull()
  })

  it('applies instance events only from the cell the instance is mapped to', async () => {
    const r2 = endpoint(admin, 'compute', 'region-two')
    const res = await call(admin, 'POST', `${r2}/servers`, { server: { name: 'owned-by-r2', imageRef, flavorRef: '1' } })
    const victim = await waitForStatus(admin, r2, res.body.server.id, 'ACTIVE')
    const cursor = (await fed.api.db.selectFrom('cells').select('event_cursor').where('path', '=', 'api!region-one').executeTakeFirstOrThrow()).event_cursor
    const payload = (uuid: string, extra: object = {}) => ({
      uuid,
      projectId: 'someone-else',
      userId: 'u',
      name: 'hijacked',
      vmState: 'active',
      taskState: null,
      powerState: 1,
      host: 'r1-dc1-1',
      availabilityZone: 'dc1',
      flavorId: '1',
      imageRef,
      createdAt: 1,
      updatedAt: Date.now(),
      deleted: false,
      ...extra,
    })
    const planted = '00000000-0000-4000-8000-00000000dead'
    // What a leaf of region-one (compromised, with its own valid certificate) could send up.
    await fed.api.tree.applyEvents(
      'api!region-one',
      [
        { instanceUuid: victim.id, version: 1e9, cellPath: 'api!region-one!dc1', payload: payload(victim.id) },
        { instanceUuid: planted, version: 1, cellPath: 'api!region-one!dc1', payload: payload(planted) },
        {
          instanceUuid: victim.id,
          version: 1e9 + 1,
          cellPath: 'api!region-one!dc1',
          payload: payload(victim.id, { deleted: true, reschedule: { spec: {}, triedCells: ['api!region-one!dc1'], faults: ['x'] } }),
        },
      ],
      cursor,
    )
    const shown = (await call(admin, 'GET', `${fed.api.urls.compute}/v2.1/servers/${victim.id}`)).body.server
    expect(shown).toMatchObject({ name: 'owned-by-r2', status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': victim['OS-EXT-SRV-ATTR:host'] })
    const row = await fed.api.db.selectFrom('instance_index').select(['cell_path', 'project_id']).where('uuid', '=', victim.id).executeTakeFirstOrThrow()
    expect(row).toEqual({ cell_path: 'api!region-two', project_id: shown.tenant_id })
    expect(await fed.api.db.selectFrom('build_requests').select('instance_uuid').where('instance_uuid', '=', victim.id).executeTakeFirst()).toBeUndefined()
    expect(await fed.api.db.selectFrom('instance_index').select('uuid').where('uuid', '=', planted).executeTakeFirst()).toBeUndefined()
    expect((await call(admin, 'DELETE', `${r2}/servers/${victim.id}`)).status).toBe(204)
  })

  it('renews certificates while the federation serves: a boot before, a boot after, no restart', async () => {
    const first = await boot('before-renewal')
    const renewed = ['api', 'api!region-one', 'api!region-one!dc1', 'api!region-one!dc2']
    const old = new Map(renewed.map((p) => [p, fingerprintOf(p)]))
    const served = await servedFingerprint('api!region-one')
    expect(served).toBe(old.get('api!region-one'))
    const portBefore = await addressOf('api!region-one')
    for (const path of renewed) {
      const r = await cellctl(['pki', 'renew', path, '--state-dir', cfg.stateDir])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout.startsWith(`Renewed the certificate of ${path} (serial `)).toBe(true)
      expect(fingerprintOf(path)).not.toBe(old.get(path))
    }
    const now = await waitFor('region-one to serve its new certificate', async () => {
      const f = await servedFingerprint('api!region-one')
      return f === fingerprintOf('api!region-one') ? f : undefined
    }, 15_000)
    expect(now).not.toBe(served)
    expect(await addressOf('api!region-one')).toBe(portBefore)
    const second = await boot('after-renewal')
    const list = await call(admin, 'GET', `${r1}/servers`)
    expect(list.body.servers.map((s: any) => s.id)).toEqual(expect.arrayContaining([first, second]))
  })
})
