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
 * Remembers the route template a request matched, e.g. `/regions/region-one/v2.1/servers/:id`.
 * Express sets `req.route` when a route takes the request, and at that moment `req.baseUrl` is
 * the route's mount path (an error travelling back out of the routers resets `baseUrl` later, so
 * both are read together, when `route` is set). A request no route took (404s, failures in
 * middleware) is `unmatched`, so that ids in URLs never become labels.
 */
export function trackRoute(req: IncomingMessage): () => string {
  let matched: string | undefined
  let route: unknown
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: unknown) => {
      route = value
      const path = (value as { path?: unknown } | undefined)?.path
      const base = (req as IncomingMessage & { baseUrl?: unknown }).baseUrl
      if (typeof path === 'string') matched = `${typeof base === 'string' ? base : ''}${path}` || '/'
    },
  })
  return () => matched ?? 'unmatched'
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
    const routeOf = trackRoute(req)
    // Routers rewrite req.url while they route: keep what the client asked for.
    const url = redactSignature(req.url)
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      const route = routeOf()
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
          url,
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

/**
 * The URL with the value of a `signature` query parameter masked, and the token of
 * `GET /os-console-auth-tokens/{token}`: a signed image file URL and a console token are
 * capabilities (api-cell/image/file-url-signer.ts, api-cell/consoles), and secrets are never logged.
 */
function redactSignature(url: string | undefined): string | undefined {
  return url?.replace(/([?&]signature=)[^&#]*/gi, '$1***').replace(/(\/os-console-auth-tokens\/)[^/?#]+/gi, '$1***')
}
