import type { Router } from 'express'
import { parentRegionOf, resolveCatalog } from '../catalog.js'
import type { CatalogConfig, CatalogService } from '../catalog.js'
import { authorize } from '../policy.js'
import { listLinks } from '../views.js'
import { found, param, queryParam, subjectOf } from './route-kit.js'
import type { RouteDeps } from './route-kit.js'

/** Regions, services and endpoints, all derived from the catalog config (read only). */
export function registerCatalogRoutes(router: Router, deps: RouteDeps): void {
  const region = (config: CatalogConfig, id: string): Record<string, unknown> => ({
    id,
    description: '',
    parent_region_id: parentRegionOf(config, id),
    links: { self: `${deps.base}/v3/regions/${id}` },
  })

  router.get('/v3/regions', (_req, res) => {
    authorize(subjectOf(res), 'identity:list_regions')
    const { config } = resolveCatalog(deps.catalog)
    res.json({ regions: config.regions.map((r) => region(config, r)), links: listLinks(deps.base, '/regions') })
  })

  router.get('/v3/regions/:id', (req, res) => {
    authorize(subjectOf(res), 'identity:get_region')
    const id = param(req, 'id')
    const { config } = resolveCatalog(deps.catalog)
    res.json({ region: region(config, found(config.regions.find((r) => r === id), 'region', id)) })
  })

  const service = (s: CatalogService): Record<string, unknown> => ({
    id: s.id,
    type: s.type,
    name: s.name,
    enabled: true,
    description: '',
    links: { self: `${deps.base}/v3/services/${s.id}` },
  })

  router.get('/v3/services', (req, res) => {
    authorize(subjectOf(res), 'identity:list_services')
    const type = queryParam(req, 'type')
    const services = resolveCatalog(deps.catalog).services.filter((s) => type === undefined || s.type === type)
    res.json({ services: services.map(service), links: listLinks(deps.base, '/services') })
  })

  router.get('/v3/services/:id', (req, res) => {
    authorize(subjectOf(res), 'identity:list_services')
    const id = param(req, 'id')
    res.json({ service: service(found(resolveCatalog(deps.catalog).services.find((s) => s.id === id), 'service', id)) })
  })

  router.get('/v3/endpoints', (req, res) => {
    authorize(subjectOf(res), 'identity:list_endpoints')
    const iface = queryParam(req, 'interface')
    const serviceId = queryParam(req, 'service_id')
    const regionId = queryParam(req, 'region_id') ?? queryParam(req, 'region')
    const endpoints = resolveCatalog(deps.catalog).services.flatMap((s) =>
      s.endpoints
        .filter((e) => (iface === undefined || e.interface === iface) && (serviceId === undefined || s.id === serviceId))
        .filter((e) => regionId === undefined || e.region_id === regionId)
        .map((e) => ({ ...e, service_id: s.id, enabled: true, links: { self: `${deps.base}/v3/endpoints/${e.id}` } })),
    )
    res.json({ endpoints, links: listLinks(deps.base, '/endpoints') })
  })
}
