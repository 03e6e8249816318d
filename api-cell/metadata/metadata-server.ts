import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../../shared/logging.js'
import { lookupMetadata, pathTokens, ROOT_LISTING } from '../../shared/metadata/metadata-lookup.js'
import type { AddressLookup } from '../../shared/network/network-info.js'
import type { MetadataFacts, ServedInstance } from './metadata-facts.js'

/** What one region's metadata listener needs. */
export interface MetadataServerArgs {
  /** The region it serves: only that region's instances are found, by address or by id. */
  readonly region: string
  readonly host: string
  /** 0: any free port. */
  readonly port: number
  readonly facts: MetadataFacts
  readonly addresses: AddressLookup
  /**
   * Neutron's `metadata_proxy_shared_secret`: a request a proxy forwards names its instance in
   * `X-Instance-ID`, signed with it. Absent: forwarded requests are refused (403).
   */
  readonly proxySecret?: string
  readonly log: Logger
}

/** A running metadata listener. */
export interface MetadataServer {
  readonly port: number
  close(): Promise<void>
}

/** A refusal: status and the text webob would answer with. */
class Refusal extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 405 | 500,
    message: string,
  ) {
    super(message)
  }
}

const TITLES = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error' } as const

/** The HMAC-SHA256 hex of `instanceId` with `secret`: what Neutron's metadata proxy sends. */
export function instanceIdSignature(secret: string, instanceId: string): string {
  return createHmac('sha256', secret).update(instanceId, 'utf8').digest('hex')
}

/**
 * Nova's metadata API (port 8775) for one region: instances read their OpenStack and EC2 metadata
 * here. The caller is identified by the address the request comes from (the network service says
 * which instance holds it in this region) or, through Neutron's metadata proxy, by a signed
 * `X-Instance-ID`. A request that identifies no instance of this region is 404: never another
 * instance's data.
 */
export async function startMetadataServer(a: MetadataServerArgs): Promise<MetadataServer> {
  const server: Server = createServer((req, res) => {
    handle(a, req, res).catch((err: unknown) => {
      const r = err instanceof Refusal ? err : new Refusal(500, 'An unknown error has occurred. Please try your request again.')
      if (!(err instanceof Refusal)) a.log.error({ err: err instanceof Error ? err.message : String(err), path: req.url }, 'metadata request failed')
      reply(res, r.status, 'text/plain', Buffer.from(`${r.status} ${TITLES[r.status]}\n\n${r.message}\n\n   `, 'utf8'), req.method === 'HEAD')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(a.port, a.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

async function handle(a: MetadataServerArgs, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD')
    throw new Refusal(405, 'The metadata service is read-only.')
  }
  const path = pathOf(req.url ?? '/')
  const head = req.method === 'HEAD'
  if (pathTokens(path).length === 0) {
    reply(res, 200, 'text/plain', Buffer.from(ROOT_LISTING, 'utf8'), head)
    return
  }
  const caller = await identify(a, req)
  const item = lookupMetadata({ facts: caller.served.facts, path, address: caller.address, today: new Date().toISOString().slice(0, 10) })
  if (item === undefined) throw new Refusal(404, 'The resource could not be found.')
  reply(res, 200, item.contentType, item.body, head)
}

/** Which instance asks: by signed instance id when a proxy forwards, else by source address. */
async function identify(a: MetadataServerArgs, req: IncomingMessage): Promise<{ served: ServedInstance; address: string | null }> {
  const notFound = new Refusal(404, 'The resource could not be found.')
  const instanceId = req.headers['x-instance-id']
  if (instanceId !== undefined) {
    if (a.proxySecret === undefined || a.proxySecret === '') throw new Refusal(403, 'Forwarded metadata requests are not accepted: no proxy shared secret is configured.')
    const signature = req.headers['x-instance-id-signature']
    const tenantId = req.headers['x-tenant-id']
    if (signature === undefined) throw new Refusal(400, 'X-Instance-ID-Signature header is missing from request.')
    if (tenantId === undefined) throw new Refusal(400, 'X-Tenant-ID header is missing from request.')
    if (typeof instanceId !== 'string') throw new Refusal(400, 'Multiple X-Instance-ID headers found within request.')
    if (typeof tenantId !== 'string') throw new Refusal(400, 'Multiple X-Tenant-ID headers found within request.')
    if (typeof signature !== 'string' || !signatureMatches(a.proxySecret, instanceId, signature)) throw new Refusal(403, 'Invalid proxy request signature.')
    const served = await a.facts.of(instanceId)
    // Another project's instance, or one of another region, is not found (as Nova's tenant check).
    if (served === undefined || served.region !== a.region || served.facts.projectId !== tenantId) throw notFound
    const forwarded = req.headers['x-forwarded-for']
    const address = typeof forwarded === 'string' ? (forwarded.split(',')[0]?.trim() ?? null) : null
    return { served, address }
  }
  const address = sourceAddress(req)
  if (address === undefined) throw notFound
  const owner = await a.addresses.instanceByAddress({ ipAddress: address, region: a.region })
  if (owner === undefined) throw notFound
  const served = await a.facts.of(owner.instanceUuid)
  if (served === undefined || served.region !== a.region || served.facts.projectId !== owner.projectId) throw notFound
  return { served, address }
}

/** The request's path, percent-decoded (as WSGI's `PATH_INFO`); malformed encoding is a 400. */
function pathOf(url: string): string {
  const raw = url.split('?')[0] ?? '/'
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new Refusal(400, 'Malformed percent-encoding in the path.')
  }
}

/** The peer's address, an IPv4-mapped IPv6 one as plain IPv4. */
function sourceAddress(req: IncomingMessage): string | undefined {
  const raw = req.socket.remoteAddress
  if (raw === undefined) return undefined
  return raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice('::ffff:'.length) : raw
}

function signatureMatches(secret: string, instanceId: string, signature: string): boolean {
  const expected = Buffer.from(instanceIdSignature(secret, instanceId), 'utf8')
  const got = Buffer.from(signature, 'utf8')
  return expected.length === got.length && timingSafeEqual(expected, got)
}

function reply(res: ServerResponse, status: number, contentType: string, body: Buffer, head: boolean): void {
  res.statusCode = status
  res.setHeader('Content-Type', `${contentType}; charset=UTF-8`)
  res.setHeader('Content-Length', String(body.length))
  res.end(head ? undefined : body)
}
