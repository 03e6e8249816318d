import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import type { ConsoleAuthorizer, ConsoleProxy } from '../../../../shared/console/console-proxy.js'
import { startConsoleProxy } from '../../../../shared/console/console-proxy.js'
import { createLogger } from '../../../../shared/logging.js'

const UUID = '11111111-2222-4333-8444-555555555555'

describe('console proxy (WebSocket to TCP)', () => {
  let echo: Server
  let echoPort = 0
  let proxy: ConsoleProxy
  const seen: Array<{ token: string; instanceUuid?: string }> = []
  const authorize: ConsoleAuthorizer = async (req) => {
    seen.push(req)
    if (req.token === 'good') return { host: '127.0.0.1', port: echoPort, instanceUuid: UUID }
    if (req.token === 'down') return { host: '127.0.0.1', port: 1, instanceUuid: UUID }
    if (req.token === 'broken') throw new Error('database away')
    return { status: 401, reason: 'Invalid console token' }
  }

  beforeAll(async () => {
    echo = createServer((s) => {
      s.write('RFB 003.008\n')
      s.pipe(s)
    })
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()))
    const a = echo.address()
    echoPort = typeof a === 'object' && a !== null ? a.port : 0
    proxy = await startConsoleProxy({ name: 'region-test', host: '127.0.0.1', port: 0, authorize, log: createLogger('test') })
  })
  afterAll(async () => {
    await proxy.close()
    echo.close()
  })

  /** Opens a WebSocket; resolves with the first message, or the status and reason of a refusal. */
  const attempt = (path: string, headers: Record<string, string> = {}): Promise<{ first?: string; status?: number; reason?: string }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}${path}`, ['binary'], { headers })
      ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, reason: String(res.headers['x-console-error'] ?? '') }))
      ws.on('message', (d: Buffer) => {
        resolve({ first: d.toString() })
        ws.close()
      })
      ws.on('error', (err) => {
        if (!String(err).includes('Unexpected server response')) reject(err)
      })
    })

  it('serves the noVNC page and nothing else over plain HTTP', async () => {
    for (const page of ['/vnc_auto.html', '/vnc.html', '/spice_auto.html']) {
      const res = await fetch(`http://127.0.0.1:${proxy.port}${page}?path=%3Ftoken%3Dx`)
      expect(res.status).toBe(200)
      const html = await res.text()
      expect(html).toMatch(/<html.*>/)
      expect(html).toContain('noVNC')
      expect(html).toContain('<script')
    }
    expect((await fetch(`http://127.0.0.1:${proxy.port}/etc/passwd`)).status).toBe(404)
  })

  it('bridges to the target the authorizer grants; the token comes from the query (with the instance) or noVNC’s old cookie', async () => {
    expect(await attempt(`/websockify?token=good&instance=${UUID}`)).toEqual({ first: 'RFB 003.008\n' })
    expect(seen.at(-1)).toEqual({ token: 'good', instanceUuid: UUID })
    expect(await attempt('/', { Cookie: 'other=1; token=good' })).toEqual({ first: 'RFB 003.008\n' })
    expect(seen.at(-1)).toEqual({ token: 'good' })
  })

  it('refusals: no token 400 (authorizer not asked), the authorizer’s status, 502 when the check fails or nothing listens', async () => {
    const asked = seen.length
    expect(await attempt('/websockify')).toMatchObject({ status: 400 })
    expect(seen.length).toBe(asked)
    expect(await attempt('/websockify?token=nope')).toEqual({ status: 401, reason: 'Invalid console token' })
    expect(await attempt('/websockify?token=broken')).toMatchObject({ status: 502 })
    expect(await attempt('/websockify?token=down')).toMatchObject({ status: 502, reason: 'The instance console is not reachable' })
  })
})
