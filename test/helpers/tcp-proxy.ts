import type { Server, Socket } from 'node:net'
import { createConnection, createServer } from 'node:net'

/**
 * A TCP proxy on loopback in front of a real server, to stage the faults of a link between
 * datacenters: `pass` relays both ways; `drop-replies` relays requests but swallows every byte
 * coming back (the callee works, the caller hears nothing); `cut()` then drops every connection,
 * as a failing link does, so that calls in flight end with no answer.
 */
export interface TcpProxy {
  readonly address: string
  mode: 'pass' | 'drop-replies'
  /** Bytes relayed from the server back to clients so far, and swallowed. */
  readonly stats: { relayed: number; swallowed: number }
  cut(): void
  close(): Promise<void>
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>()
  const stats = { relayed: 0, swallowed: 0 }
  const proxy: { mode: TcpProxy['mode'] } = { mode: 'pass' }
  const server: Server = createServer((client) => {
    const upstream = createConnection(target)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    client.on('data', (b) => upstream.write(b))
    upstream.on('data', (b) => {
      if (proxy.mode === 'pass') {
        stats.relayed += b.length
        client.write(b)
      } else {
        stats.swallowed += b.length
      }
    })
    const end = (): void => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end)
    upstream.on('close', end)
    client.on('error', end)
    upstream.on('error', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    address: `127.0.0.1:${port}`,
    get mode() {
      return proxy.mode
    },
    set mode(m) {
      proxy.mode = m
    },
    stats,
    cut() {
      for (const [a, b] of pairs) {
        a.destroy()
        b.destroy()
      }
      pairs.clear()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [a, b] of pairs) {
          a.destroy()
          b.destroy()
        }
        server.close(() => resolve())
      }),
  }
}
