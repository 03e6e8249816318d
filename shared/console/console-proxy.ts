import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { Socket } from 'node:net'
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Logger } from '../logging.js'

/** Where a granted console connects: the guest's console address, as its compute host gave it. */
export interface ConsoleTarget {
  readonly host: string
  readonly port: number
  readonly instanceUuid: string
}

/** A refusal with the HTTP status the upgrade is answered with, and why. */
export interface ConsoleDenial {
  readonly status: number
  readonly reason: string
}

/**
 * Checks and uses up the token of one connection attempt (the caller's token store decides):
 * a target, or a denial. Called once per upgrade, before anything is connected.
 */
export type ConsoleAuthorizer = (req: { token: string; instanceUuid?: string }) => Promise<ConsoleTarget | ConsoleDenial>

/** What a console proxy needs. */
export interface ConsoleProxyArgs {
  /** Names the proxy in logs (its region). */
  readonly name: string
  readonly host: string
  /** 0: any free port. */
  readonly port: number
  readonly authorize: ConsoleAuthorizer
  readonly log: Logger
}

/** A running console proxy. */
export interface ConsoleProxy {
  readonly port: number
  close(): Promise<void>
}

/**
 * The page at `/vnc_auto.html` (and `/vnc.html`, `/spice_auto.html`): a stand-in for noVNC's page, which is not
 * shipped here. It names noVNC and where the WebSocket is, so clients and Tempest's check of the
 * page find what they look for; point a noVNC client at this proxy to see the display.
 */
const PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>noVNC</title></head>
<body>
<p>Console proxy of the federation (noVNC-compatible WebSocket at this address, path from the <code>path</code> parameter).</p>
<script>
  // noVNC connects its WebSocket to ws(s)://<this host>/<path>, path = ?token=... from this URL.
  const path = new URLSearchParams(window.location.search).get('path') || 'websockify'
  document.body.insertAdjacentHTML('beforeend', '<p>WebSocket: ' + path.replace(/[<>&]/g, '') + '</p>')
</script>
</body>
</html>
`

/** Where clients open the page: noVNC's pages and spice-html5's. */
const PAGES = new Set(['/vnc_auto.html', '/vnc.html', '/vnc_lite.html', '/spice_auto.html'])

/** The token and instance of an upgrade: query string first, then noVNC's old `token` cookie. */
function credentialsOf(req: IncomingMessage): { token: string | undefined; instanceUuid: string | undefined } {
  const url = new URL(req.url ?? '/', 'http://proxy.invalid')
  let token = url.searchParams.get('token') ?? undefined
  if (token === undefined) {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=')
      if (k === 'token') token = decodeURIComponent(v.join('='))
    }
  }
  return { token, instanceUuid: url.searchParams.get('instance') ?? undefined }
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 502: 'Bad Gateway' }

/**
 * Answers a refused upgrade with a bodiless HTTP response, the reason in `X-Console-Error`, and
 * closes the socket. No body: a client that reads on as if upgraded (Tempest's WebSocket) must
 * find nothing, as from websockify closing on a bad token.
 */
function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nX-Console-Error: ${reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
}

/** Connects TCP to the guest's console; rejects when nothing listens there. */
function dial(target: ConsoleTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const tcp = connect({ host: target.host, port: target.port, noDelay: true })
    tcp.once('connect', () => {
      tcp.removeListener('error', reject)
      resolve(tcp)
    })
    tcp.once('error', reject)
  })
}

/**
 * Starts a noVNC-style console proxy (Nova's nova-novncproxy, websockify): `GET /vnc_auto.html`
 * serves a page; a WebSocket upgrade on any path (`/websockify`, or `/?token=...` as noVNC builds
 * it from the URL's `path`) is authorised with its token (from the query or the `token` cookie),
 * which is used up, then bridged byte for byte to the guest's console over TCP. A refused token is
 * answered with its HTTP status (the reason in `X-Console-Error`) before any upgrade, and nothing
 * is connected.
 */
export async function startConsoleProxy(a: ConsoleProxyArgs): Promise<ConsoleProxy> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://proxy.invalid').pathname
    if ((req.method === 'GET' || req.method === 'HEAD') && PAGES.has(path)) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(PAGE) })
      res.end(req.method === 'HEAD' ? undefined : PAGE)
      return
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' })
    res.end('Not Found\n')
  })
  const sockets = new Set<Duplex>()
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    const { token, instanceUuid } = credentialsOf(req)
    if (token === undefined || token === '') {
      refuse(socket, 400, 'No console token given (?token=...)')
      return
    }
    void (async () => {
      const granted = await a.authorize({ token, ...(instanceUuid === undefined ? {} : { instanceUuid }) }).catch((err: unknown) => {
        a.log.warn({ proxy: a.name, err: String(err) }, 'console token check failed')
        return { status: 502, reason: 'The console token could not be checked' } satisfies ConsoleDenial
      })
      if ('status' in granted) {
        a.log.info({ proxy: a.name, status: granted.status }, `console connection refused: ${granted.reason}`)
        refuse(socket, granted.status, granted.reason)
        return
      }
      let tcp: Socket
      try {
        tcp = await dial(granted)
      } catch (err) {
        a.log.warn({ proxy: a.name, instance: granted.instanceUuid, err: String(err) }, 'console unreachable')
        refuse(socket, 502, 'The instance console is not reachable')
        return
      }
      if (socket.destroyed) {
        tcp.destroy()
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        a.log.info({ proxy: a.name, instance: granted.instanceUuid }, 'console connected')
        const stream = createWebSocketStream(ws)
        stream.on('error', () => tcp.destroy())
        tcp.on('error', () => stream.destroy())
        tcp.on('close', () => ws.close())
        ws.on('close', () => tcp.destroy())
        stream.pipe(tcp)
        tcp.pipe(stream)
      })
    })()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(a.port, a.host, () => resolve())
  })
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate()
        for (const s of sockets) s.destroy()
        wss.close()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
