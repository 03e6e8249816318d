import type { Server, Socket } from 'node:net'
import { connect, createServer } from 'node:net'

/**
 * A TCP forwarder to a real server (MariaDB) that a test can cut and restore: while `down`, every
 * open connection is reset and new ones are refused, the way a database host that went away looks.
 */
export interface TcpProxy {
  readonly port: number
  /** Resets every connection and refuses new ones until {@link TcpProxy.up}. */
  down(): Promise<void>
  /** Accepts connections again, on the same port. */
  up(): Promise<void>
  close(): Promise<void>
}

/** Starts a {@link TcpProxy} to `target` on a free loopback port, accepting connections. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
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
        client.pipe(upstream)
        upstream.pipe(client)
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
  const stop = async (): Promise<void> => {
    const s = server
    server = undefined
    for (const sock of sockets) sock.resetAndDestroy()
    sockets.clear()
    if (s !== undefined) await new Promise<void>((r) => s.close(() => r()))
  }
  await listen()
  return {
    get port() {
      return port
    },
    down: stop,
    up: listen,
    close: stop,
  }
}
