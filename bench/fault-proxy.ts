import type { Server, Socket } from 'node:net'
import { connect, createServer } from 'node:net'

/**
 * A TCP proxy on loopback in front of a real server (a cell agent, MariaDB), to stage the faults
 * of a link between datacenters:
 * - `mode = 'pass'` relays both ways; `'drop-replies'` relays requests but swallows every byte
 *   coming back (the callee works, the caller hears nothing);
 * - `cut()` resets every open connection, as a failing link does, so calls in flight end unanswered;
 * - `down()` also refuses new connections until `up()` (a host that went away), on the same port.
 */
export interface TcpProxy {
  readonly port: number
  /** `127.0.0.1:port`. */
  readonly address: string
  mode: 'pass' | 'drop-replies'
  /** Bytes relayed from the server back to clients so far, and swallowed. */
  readonly stats: { relayed: number; swallowed: number }
  cut(): void
  /** Resets every connection and refuses new ones until {@link TcpProxy.up}. */
  down(): Promise<void>
  /** Accepts connections again, on the same port. */
  up(): Promise<void>
  close(): Promise<void>
}

/** Starts a {@link TcpProxy} to `target` on a free loopback port, accepting and relaying. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  const stats = { relayed: 0, swallowed: 0 }
  const state: { mode: TcpProxy['mode'] } = { mode: 'pass' }
  let port = 0
  let server: Server | undefined
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(target.port, target.host)
        for (const sock of [client, upstream]) {
          sockets.add(sock)
          sock.setNoDelay(true)
          sock.on('close', () => sockets.delete(sock))
          sock.on('error', () => undefined)
        }
        client.on('data', (b) => upstream.write(b))
        upstream.on('data', (b) => {
          if (state.mode === 'pass') {
            stats.relayed += b.length
            client.write(b)
          } else {
            stats.swallowed += b.length
          }
        })
        client.on('close', () => upstream.destroy())
        upstream.on('close', () => client.destroy())
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => {
        const addr = s.address()
        if (addr !== null && typeof addr === 'object') port = addr.port
        server = s
        resolve()
      })
    })
  const cut = (): void => {
    for (const sock of sockets) sock.resetAndDestroy()
    sockets.clear()
  }
  const stop = async (): Promise<void> => {
    const s = server
    server = undefined
    cut()
    if (s !== undefined) await new Promise<void>((r) => s.close(() => r()))
  }
  await listen()
  return {
    get port() {
      return port
    },
    get address() {
      return `127.0.0.1:${port}`
    },
    get mode() {
      return state.mode
    },
    set mode(m) {
      state.mode = m
    },
    stats,
    cut,
    down: stop,
    up: listen,
    close: stop,
  }
}
