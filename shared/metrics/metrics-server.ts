import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { enableProcessMetrics, METRICS_CONTENT_TYPE, metricsText } from './registry.js'

/** A running metrics listener. */
export interface MetricsServer {
  readonly port: number
  close(): Promise<void>
}

/**
 * Serves `GET /metrics` (Prometheus text format) on its own port. Metrics have no authentication,
 * so they live on a separate listener that operators bind to a management network, never on the
 * public API ports. Also turns on Node's process metrics.
 *
 * @example
 *   const m = await serveMetrics({ host: '127.0.0.1', port: 9100 })
 */
export async function serveMetrics(args: { readonly host: string; readonly port: number }): Promise<MetricsServer> {
  enableProcessMetrics()
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' || (path !== '/metrics' && path !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    metricsText().then(
      (text) => res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(args.port, args.host, () => resolve())
  })
  const addr = server.address()
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/**
 * Parses a `--metrics-port` value: undefined (flag absent) means no metrics listener.
 * Throws a one-line error for anything but a port number.
 */
export function metricsPortOf(value: string | boolean | undefined): number | undefined {
  if (value === undefined || value === false) return undefined
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) > 65535) throw new Error(`--metrics-port must be a port number, got ${String(value)}`)
  return Number(value)
}
