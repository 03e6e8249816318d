import { createHash, randomUUID } from 'node:crypto'
import type { Server, Socket } from 'node:net'
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import type { Federation } from '../../bin/embedded.js'
import type { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

const BANNER = 'RFB 003.008\n'

/** A stand-in for a guest's display: sends the RFB banner, then echoes what it gets. */
function rfbServer(): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    count += 1
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.write(BANNER)
    s.on('data', (d) => s.write(d))
    s.on('error', () => s.destroy())
  })
  server.on('close', () => {
    for (const s of sockets) s.destroy()
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address()
      resolve({ server, port: typeof addr === 'object' && addr !== null ? addr.port : 0, connections: () => count })
    })
  })
}

/** The WebSocket URL noVNC builds from a console URL: the proxy's address, then the `path` parameter. */
function websocketUrl(consoleUrl: string): string {
  const u = new URL(consoleUrl)
  const path = u.searchParams.get('path') ?? `websockify${u.search}`
  return `ws://${u.host}/${path.startsWith('?') ? `websockify${path}` : path}`
}

type Outcome = { opened: true; first: string; echo: string } | { opened: false; status: number; reason: string; body: string }

/** Connects like noVNC does, reads the first message, sends one and reads its echo. */
function openConsole(url: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'])
    const got: string[] = []
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (b: Buffer) => (body += b.toString()))
      res.on('end', () => resolve({ opened: false, status: res.statusCode ?? 0, reason: String(res.headers['x-console-error'] ?? ''), body }))
    })
    ws.on('message', (data: Buffer) => {
      got.push(data.toString())
      if (got.length === 1) ws.send(Buffer.from('hello guest'))
      else {
        ws.close()
        resolve({ opened: true, first: got[0] ?? '', echo: got.slice(1).join('') })
      }
    })
    ws.on('error', (err) => {
      if (!String(err).includes('Unexpected server response')) reject(err)
    })
  })
}

/**
 * Remote consoles end to end in the embedded federation (fake driver): the URL from
 * `POST /servers/{id}/remote-consoles` and the old `os-getVNCConsole`, through the region's
 * console proxy (a WebSocket), to a small RFB server standing in for the guest's display.
 */
describe('embedded federation: remote consoles through the region console proxy', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let alice: ProjectUser
  let bob: ProjectUser
  let nova: string
  let id: string
  let display: Awaited<ReturnType<typeof rfbServer>>

  const remoteConsole = (body: unknown, who: Session = alice.session, v = '2.6') => call(who, 'POST', `${nova}/servers/${id}/remote-consoles`, body, mv(v))
  const vnc = async (): Promise<string> => {
    const res = await remoteConsole({ remote_console: { protocol: 'vnc', type: 'novnc' } })
    expect(res.status).toBe(200)
    return res.body.remote_console.url as string
  }
  const tokenOf = (url: string): string => new URLSearchParams(new URL(url).searchParams.get('path') ?? '').get('token') ?? ''

  beforeAll(async () => {
    cfg = embeddedConfig(undefined, { driver: 'fake' })
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    alice = await createProjectUser(fed.api.urls.identity, admin, 'alice-console')
    bob = await createProjectUser(fed.api.urls.identity, admin, 'bob-console')
    nova = endpoint(alice.session, 'compute', 'region-one')
    const glance = endpoint(alice.session, 'image', 'region-one')
    const cirros = (await call(alice.session, 'GET', `${glance}/v2/images?name=cirros`)).body.images[0].id
    const res = await call(alice.session, 'POST', `${nova}/servers`, { server: { name: 'screen', imageRef: cirros, flavorRef: '1' } })
    expect(res.status).toBe(202)
    id = res.body.server.id
    await waitForStatus(alice.session, nova, id, 'ACTIVE')
    const host = (await call(admin, 'GET', `${nova}/servers/${id}`, undefined, mv('2.1'))).body.server['OS-EXT-SRV-ATTR:host'] as string
    display = await rfbServer()
    ;(fed.driverOf(host) as FakeDriver).setConsole(id, 'vnc', { host: '127.0.0.1', port: display.port })
  }, 60_000)

  afterAll(async () => {
    display?.server.close()
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('2.6 remote-consoles: Nova’s body and a noVNC URL of region-one’s proxy; the WebSocket reaches the guest display and bytes go both ways', async () => {
    const res = await remoteConsole({ remote_console: { protocol: 'vnc', type: 'novnc' } })
    expect(res.status).toBe(200)
    expect(Object.keys(res.body.remote_console).sort()).toEqual(['protocol', 'type', 'url'])
    expect(res.body.remote_console).toMatchObject({ protocol: 'vnc', type: 'novnc' })
    const url = res.body.remote_console.url as string
    expect(url.startsWith(`${fed.api.consoleUrls['region-one']}/vnc_auto.html?path=%3Ftoken%3D`)).toBe(true)
    // The page noVNC would load.
    const page = await fetch(url)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('noVNC')
    const before = display.connections()
    const out = await openConsole(websocketUrl(url))
    expect(out).toEqual({ opened: true, first: BANNER, echo: 'hello guest' })
    expect(display.connections()).toBe(before + 1)
  })

  it('the token is stored hashed, and single-use: a second connection with it is 401 and reaches nothing', async () => {
    const url = await vnc()
    const token = tokenOf(url)
    const rows = await fed.api.db.selectFrom('console_auth_tokens').selectAll().execute()
    expect(rows.some((r) => r.token_hash === token)).toBe(false)
    expect(rows.some((r) => r.token_hash === createHash('sha256').update(token).digest('hex') && r.instance_uuid === id)).toBe(true)
    expect((await openConsole(websocketUrl(url))).opened).toBe(true)
    const before = display.connections()
    const again = await openConsole(websocketUrl(url))
    expect(again).toMatchObject({ opened: false, status: 401, reason: expect.stringContaining('already used') })
    expect(display.connections()).toBe(before)
  })

  it('an expired token is 401, a malformed or missing one 400, an unknown one 401; none reaches the display', async () => {
    const url = await vnc()
    const hash = createHash('sha256').update(tokenOf(url)).digest('hex')
    await fed.api.db.updateTable('console_auth_tokens').set({ expires_at: Date.now() - 1000 }).where('token_hash', '=', hash).execute()
    const before = display.connections()
    // The reason is in a header; no body, which a client reading on as if upgraded would take for frames.
    expect(await openConsole(websocketUrl(url))).toMatchObject({ opened: false, status: 401, reason: expect.stringContaining('expired'), body: '' })
    const proxy = fed.api.consoleUrls['region-one']?.replace('http', 'ws')
    expect(await openConsole(`${proxy}/websockify?token=bad${tokenOf(await vnc())}`)).toMatchObject({ opened: false, status: 400 })
    expect(await openConsole(`${proxy}/websockify`)).toMatchObject({ opened: false, status: 400 })
    expect(await openConsole(`${proxy}/websockify?token=${'A'.repeat(43)}`)).toMatchObject({ opened: false, status: 401 })
    expect(display.connections()).toBe(before)
  })

  it('a token used for another instance is 403 and stays usable for its own; another region’s proxy refuses it (403)', async () => {
    const url = await vnc()
    const token = tokenOf(url)
    const one = fed.api.consoleUrls['region-one']?.replace('http', 'ws')
    const two = fed.api.consoleUrls['region-two']?.replace('http', 'ws')
    expect(two).toBeDefined()
    expect(two).not.toBe(one)
    const before = display.connections()
    expect(await openConsole(`${one}/websockify?token=${token}&instance=${randomUUID()}`)).toMatchObject({ opened: false, status: 403 })
    expect(await openConsole(`${two}/websockify?token=${token}&instance=${id}`)).toMatchObject({ opened: false, status: 403 })
    expect(display.connections()).toBe(before)
    expect(await openConsole(`${one}/websockify?token=${token}&instance=${id}`)).toMatchObject({ opened: true, first: BANNER })
  })

  it('os-getVNCConsole (before 2.6): {"console": {type, url}}; from 2.6 the action is 404', async () => {
    const res = await call(alice.session, 'POST', `${nova}/servers/${id}/action`, { 'os-getVNCConsole': { type: 'novnc' } }, mv('2.1'))
    expect(res.status).toBe(200)
    expect(Object.keys(res.body.console).sort()).toEqual(['type', 'url'])
    expect(res.body.console.type).toBe('novnc')
    expect((await openConsole(websocketUrl(res.body.console.url))).opened).toBe(true)
    expect((await call(alice.session, 'POST', `${nova}/servers/${id}/action`, { 'os-getVNCConsole': { type: 'novnc' } }, mv('2.6'))).status).toBe(404)
  })

  it('bad requests are 4xx in Nova’s shape and issue no token', async () => {
    const count = async (): Promise<number> => (await fed.api.db.selectFrom('console_auth_tokens').select('token_hash').execute()).length
    const before = await count()
    const cases: Array<[unknown, string, number]> = [
      [{ remote_console: { protocol: 'vnc', type: 'spice-html5' } }, '2.6', 400],
      [{ remote_console: { protocol: 'vnc' } }, '2.6', 400],
      [{ remote_console: { protocol: 'vnc', type: 'novnc', extra: 1 } }, '2.6', 400],
      [{ remote_console: { protocol: 'rdp', type: 'rdp-html5' } }, '2.6', 400],
      [{ remote_console: { protocol: 'mks', type: 'webmks' } }, '2.6', 400],
      [{ remote_console: { protocol: 'mks', type: 'webmks' } }, '2.8', 400],
      [{ remote_console: { protocol: 'spice', type: 'spice-html5' } }, '2.6', 400],
      [{ remote_console: { protocol: 'vnc', type: 'novnc' } }, '2.5', 404],
    ]
    for (const [body, v, status] of cases) {
      const res = await remoteConsole(body, alice.session, v)
      expect(res.status, JSON.stringify(body)).toBe(status)
      if (status === 400) expect(res.body.badRequest.code).toBe(400)
    }
    expect((await call(alice.session, 'POST', `${nova}/servers/${id}/action`, { 'os-getVNCConsole': {} }, mv('2.1'))).status).toBe(400)
    // Another project's server does not exist for bob.
    expect((await remoteConsole({ remote_console: { protocol: 'vnc', type: 'novnc' } }, bob.session)).status).toBe(404)
    expect((await call(alice.session, 'POST', `${nova}/servers/${randomUUID()}/remote-consoles`, { remote_console: { protocol: 'vnc', type: 'novnc' } }, mv('2.6'))).status).toBe(404)
    expect(await count()).toBe(before)
  })

  it('GET /os-console-auth-tokens/{token} (admin, 2.31): the binding, without using the token up', async () => {
    const url = await vnc()
    const token = tokenOf(url)
    const show = await call(admin, 'GET', `${nova}/os-console-auth-tokens/${token}`, undefined, mv('2.31'))
    expect(show.status).toBe(200)
    expect(show.body).toEqual({ console: { instance_uuid: id, host: '127.0.0.1', port: display.port, internal_access_path: null } })
    expect((await call(alice.session, 'GET', `${nova}/os-console-auth-tokens/${token}`, undefined, mv('2.31'))).status).toBe(403)
    expect((await call(admin, 'GET', `${nova}/os-console-auth-tokens/${token}`, undefined, mv('2.30'))).status).toBe(400)
    expect((await call(admin, 'GET', `${nova}/os-console-auth-tokens/${'B'.repeat(43)}`, undefined, mv('2.31'))).status).toBe(404)
    expect((await openConsole(websocketUrl(url))).opened).toBe(true)
    expect((await call(admin, 'GET', `${nova}/os-console-auth-tokens/${token}`, undefined, mv('2.31'))).status).toBe(404)
  })

  it('deleting the server forgets its console tokens: a URL handed out before opens nothing (401)', async () => {
    const url = await vnc()
    expect((await call(alice.session, 'DELETE', `${nova}/servers/${id}`)).status).toBe(204)
    const before = display.connections()
    expect(await openConsole(websocketUrl(url))).toMatchObject({ opened: false, status: 401, reason: expect.stringContaining('Invalid') })
    expect((await call(admin, 'GET', `${nova}/os-console-auth-tokens/${tokenOf(url)}`, undefined, mv('2.31'))).status).toBe(404)
    expect(display.connections()).toBe(before)
  })
})
