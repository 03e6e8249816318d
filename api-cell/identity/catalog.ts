import { createHash } from 'node:crypto'
import { z } from 'zod'

/**
 * The service catalog served in tokens and under /v3/auth/catalog, /v3/services, /v3/endpoints and
 * /v3/regions. It is built from configuration, not stored: the API cell knows its own URLs.
 */

/** Where each service answers. */
export interface CatalogConfig {
  /**
   * Region ids (`federation`, `region-one`, ...): every service gets endpoints in every region, in
   * this order. Clients that are given no region name take the first endpoint of a service, so the
   * region that spans the federation comes first.
   */
  readonly regions: readonly string[]
  /**
   * Keystone's `parent_region_id` of each region that has one, e.g. `{ 'region-one': 'federation' }`:
   * the federation-wide region is the parent of every region of the tree.
   */
  readonly parentRegions?: Readonly<Record<string, string>>
  /** Keystone base URL, e.g. `http://host:5000/v3` (the same in every region). */
  readonly identityUrl: string
  /** Glance base URL, e.g. `http://host:9292` (the same in every region). */
  readonly imageUrl: string
  /** Nova base URL per region, e.g. `{ 'region-one': 'http://host:8774/v2.1' }`. */
  readonly computeUrls: Readonly<Record<string, string>>
  /** Neutron base URL per region, e.g. `{ 'region-one': 'http://host:9696/regions/region-one' }` (absent: no network service). */
  readonly networkUrls?: Readonly<Record<string, string>>
}

/** Endpoint interfaces; every service is published on all three. */
export const INTERFACES = ['public', 'internal', 'admin'] as const
/** One of {@link INTERFACES}. */
export type EndpointInterface = (typeof INTERFACES)[number]

/** One endpoint in Keystone's catalog form. */
export interface CatalogEndpoint {
  readonly id: string
  readonly interface: EndpointInterface
  readonly region: string
  readonly region_id: string
  readonly url: string
}

/** One service in Keystone's catalog form. */
export interface CatalogService {
  readonly id: string
  readonly type: string
  readonly name: string
  readonly endpoints: readonly CatalogEndpoint[]
}

/** The catalog as the identity router receives it: fixed, or recomputed on each request. */
export type CatalogSource = CatalogConfig | (() => CatalogConfig)

const urlSchema = z.url({ protocol: /^https?$/ })
const configSchema = z
  .object({
    regions: z.array(z.string().min(1).max(255)).min(1),
    identityUrl: urlSchema,
    imageUrl: urlSchema,
    computeUrls: z.record(z.string(), urlSchema),
    networkUrls: z.record(z.string(), urlSchema).optional(),
    parentRegions: z.record(z.string(), z.string()).optional(),
  })
  .superRefine((c, ctx) => {
    for (const region of Object.keys(c.computeUrls)) {
      if (!c.regions.includes(region)) ctx.addIssue({ code: 'custom', message: `compute region ${region} is not in regions` })
    }
    if (new Set(c.regions).size !== c.regions.length) ctx.addIssue({ code: 'custom', message: 'duplicate region' })
    for (const [region, parent] of Object.entries(c.parentRegions ?? {})) {
      if (!c.regions.includes(region)) ctx.addIssue({ code: 'custom', message: `region ${region} with a parent is not in regions` })
      if (!c.regions.includes(parent)) ctx.addIssue({ code: 'custom', message: `parent region ${parent} is not in regions` })
      if (parent === region) ctx.addIssue({ code: 'custom', message: `region ${region} is its own parent` })
    }
  })

const built = new WeakMap<CatalogConfig, readonly CatalogService[]>()

/**
 * Validates `config` and builds the catalog: `identity` (keystone), `compute` (nova), `image` (glance),
 * each with public, internal and admin endpoints in every region (compute only in regions that have a
 * URL), and `network` (neutron) when network URLs are given. Ids are derived from names, so they are stable across restarts and processes. The result is
 * frozen and memoised per config object. Throws on an invalid config (a start-up error).
 */
export function buildCatalog(config: CatalogConfig): readonly CatalogService[] {
  const cached = built.get(config)
  if (cached !== undefined) return cached
  const parsed = configSchema.safeParse(config)
  if (!parsed.success) throw new Error(`invalid catalog config: ${z.prettifyError(parsed.error)}`)
  const c = parsed.data
  const service = (type: string, name: string, urlFor: (region: string) => string | undefined): CatalogService => {
    const endpoints: CatalogEndpoint[] = []
    for (const region of c.regions) {
      const url = urlFor(region)
      if (url === undefined) continue
      for (const iface of INTERFACES) {
        const id = stableId('endpoint', type, region, iface)
        endpoints.push(Object.freeze({ id, interface: iface, region, region_id: region, url: trimSlash(url) }))
      }
    }
    return Object.freeze({ id: stableId('service', type), type, name, endpoints: Object.freeze(endpoints) })
  }
  const catalog = Object.freeze([
    service('identity', 'keystone', () => c.identityUrl),
    service('compute', 'nova', (region) => c.computeUrls[region]),
    service('image', 'glance', () => c.imageUrl),
    ...(c.networkUrls === undefined ? [] : [service('network', 'neutron', (region) => c.networkUrls?.[region])]),
  ])
  built.set(config, catalog)
  return catalog
}

/** Keystone's `parent_region_id` of `region` (null for a top-level region). */
export function parentRegionOf(config: CatalogConfig, region: string): string | null {
  const parents = config.parentRegions ?? {}
  return Object.hasOwn(parents, region) ? (parents[region] ?? null) : null
}

/** Resolves a {@link CatalogSource}. */
export function resolveCatalog(source: CatalogSource): { readonly config: CatalogConfig; readonly services: readonly CatalogService[] } {
  const config = typeof source === 'function' ? source() : source
  return { config, services: buildCatalog(config) }
}

/**
 * A 32-hex-digit id (Keystone's id form) derived from `parts`, in the manner of a UUID v5: the same
 * names always give the same id.
 */
export function stableId(...parts: readonly string[]): string {
  return createHash('sha256').update(`federation-catalog:${parts.join('\u0000')}`).digest('hex').slice(0, 32)
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}
