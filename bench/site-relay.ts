#!/usr/bin/env node
import type { Server, Socket } from 'node:net'
import { connect, createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

/**
 * A small TCP relay for rehearsing separate sites in network namespaces (the separate-sites test
 * and `npm run bench -- sites`):
 * - MariaDB and RabbitMQ listen on 127.0.0.1 of the root namespace only; a namespace reaches them
 *   through a Unix socket (paths are not namespaced) relayed on each side, so a site keeps its
 *   database and broker when its link to the other sites is cut, as a real site would;
 * - `delayMs` holds every chunk that long in each direction, which stands in for `tc netem delay`
 *   on kernels built without `sch_netem`.
 *
 * Run as a program (`node dist/bench/site-relay.js '<JSON list of routes>'`, typically under
 * `ip netns exec`), it prints `ready` once every route listens and relays until killed.
 */

/** A TCP address or a Unix socket path. */
export type RelayEndpoint = { readonly host: string; readonly port: number } | { readonly path: string }

/** One listener and where its connections go. */
export interface RelayRoute {
  readonly listen: RelayEndpoint
  readonly target: RelayEndpoint
  /** Added one-way delay, in ms, in each direction (default 0). */
  readonly delayMs?: number
}

/** Running relays: `close()` stops listening and resets every connection. */
export interface Relay {
  close(): Promise<void>
}

const dial = (e: RelayEndpoint): Socket => ('path' in e ? connect(e.path) : connect(e.port, e.host))

/** Writes what `from` sends to `to`, each chunk `delayMs` later, in order; ends `to` after the last. */
function pipeDelayed(from: Socket, to: Socket, delayMs: number): void {
  if (delayMs <= 0) {
    from.pipe(to)
    return
  }
  const queue: Array<{ due: number; chunk: Buffer | null }> = []
  let timer: NodeJS.Timeout | undefined
  const drain = (): void => {
    timer = undefined
    const now = Date.now()
    while (queue.length > 0 && (queue[0]?.due ?? 0) <= now) {
      const { chunk } = queue.shift() as { due: number; chunk: Buffer | null }
      if (chunk === null) to.end()
      else to.write(chunk)
    }
    const next = queue[0]
    if (next !== undefined) timer = setTimeout(drain, Math.max(0, next.due - Date.now()))
  }
  const push = (chunk: Buffer | null): void => {
    queue.push({ due: Date.now() + delayMs, chunk })
    timer ??= setTimeout(drain, delayMs)
  }
  from.on('data', (b: Buffer) => push(b))
  from.on('end', () => push(null))
  to.on('close', () => {
    if (timer !== undefined) clearTimeout(timer)
    queue.length = 0
  })
}

/** Starts every route; resolves once all listen. */
export async function startRelay(routes: readonly RelayRoute[]): Promise<Relay> {
  const sockets = new Set<Socket>()
  const servers: Server[] = []
  for (const r of routes) {
    const server = createServer({ allowHalfOpen: true }, (client) => {
      const upstream = dial(r.target)
      for (const s of [client, upstream]) {
        sockets.add(s)
        // A no-op on Unix sockets; on TCP it keeps small gRPC and AMQP frames from waiting.
        s.setNoDelay(true)
        s.on('error', () => s.destroy())
        s.on('close', () => sockets.delete(s))
      }
      const delayMs = r.delayMs ?? 0
      pipeDelayed(client, upstream, delayMs)
      pipeDelayed(upstream, client, delayMs)
      // One side gone: the other follows once what is still on its way (delayed) has arrived.
      const follow = (other: Socket): void => {
        if (delayMs <= 0) {
          other.destroy()
          return
        }
        setTimeout(() => {
          other.end()
          setTimeout(() => other.destroy(), 1000).unref()
        }, delayMs + 5).unref()
      }
      client.on('close', () => follow(upstream))
      upstream.on('close', () => follow(client))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      if ('path' in r.listen) server.listen(r.listen.path, resolve)
      else server.listen(r.listen.port, r.listen.host, resolve)
    })
    servers.push(server)
  }
  return {
    close: async () => {
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
    },
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const routes = JSON.parse(process.argv[2] ?? '[]') as RelayRoute[]
  startRelay(routes).then(
    () => process.stdout.write('ready\n'),
    (err: unknown) => {
      process.stderr.write(`site-relay: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
