import type { IncomingMessage, ServerResponse } from 'node:http'
import { Counter, Histogram } from 'prom-client'
import type { Logger } from '../logging.js'
import { LATENCY_BUCKETS, metricsRegistry } from './registry.js'

/** HTTP requests served, per listener, method, route template and status. */
export const httpRequests = new Counter({
  name: 'federation_http_requests_total',
  help: 'HTTP requests served by the API listeners, by listener, method, route and status',
  labelNames: ['listener', 'method', 'route', 'status'] as const,
  registers: [metricsRegistry],
})

/** Time from a request's arrival to the end of its response. */
export const httpRequestSeconds = new Histogram({
  name: 'federation_http_request_duration_seconds',
  help: 'HTTP request latency of the API listeners, by listener, method and route',
  labelNames: ['listener', 'method', 'route'] as const,
  buckets: [...LATENCY_BUCKETS],
  registers: [metricsRegistry],
})

/** A node request listener (an express app is one). */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void

/**
 * The route template a request matched, e.g. `/regions/region-one/v2.1/servers/:id`. Express
 * leaves `req.baseUrl` and `req.route` on the request once a handler answered; a request no route
 * took (404s, failures in middleware) is `unmatched`, so that ids in URLs never become labels.
 */
export function routeOf(req: IncomingMessage): string {
  const r = req as IncomingMessage & { baseUrl?: unknown; route?: { path?: unknown } }
  const path = r.route?.path
  if (typeof path !== 'string') return 'unmatched'
  const base = typeof r.baseUrl === 'string' ? r.baseUrl : ''
  return `${base}${path}` || '/'
}

/**
 * Wraps a listener's request handler with metrics and an access log: one JSON line per request at
 * `info`, carrying the request id the response announces (`x-openstack-request-id`), so a grep for
 * that id starts at the API's access line.
 *
 * @example
 *   server.on('request', observeHttp({ listener: 'compute', handler: computeApp, log }))
 */
export function observeHttp(args: { readonly listener: string; readonly handler: RequestListener; readonly log?: Logger }): RequestListener {
  const { listener, handler, log } = args
  return (req, res) => {
    const start = process.hrtime.bigint()
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      const route = routeOf(req)
      const method = req.method ?? 'GET'
      httpRequests.inc({ listener, method, route, status: String(res.statusCode) })
      httpRequestSeconds.observe({ listener, method, route }, seconds)
      if (log === undefined) return
      const requestId = res.getHeader('x-openstack-request-id')
      log.info(
        {
          requestId: typeof requestId === 'string' ? requestId : undefined,
          listener,
          method,
          url: req.url,
          route,
          status: res.statusCode,
          durationMs: Math.round(seconds * 10_000) / 10,
        },
        'request',
      )
    })
    handler(req, res)
  }
}
