import type { Router } from 'express'
import { authorize } from '../policy.js'
import { listLinks, renderDomain } from '../views.js'
import { ctxOf, found, param, queryParam, subjectOf } from './route-kit.js'
import type { RouteDeps } from './route-kit.js'

/** `GET /v3/domains[?name=]` and `GET /v3/domains/{id}` (read only: domains come from bootstrap). */
export function registerDomainRoutes(router: Router, deps: RouteDeps): void {
  router.get('/v3/domains', async (req, res) => {
    authorize(subjectOf(res), 'identity:list_domains')
    const domains = await deps.store.listDomains(ctxOf(res), { name: queryParam(req, 'name') })
    res.json({ domains: domains.map((d) => renderDomain(deps.base, d)), links: listLinks(deps.base, '/domains') })
  })

  router.get('/v3/domains/:id', async (req, res) => {
    const id = param(req, 'id')
    authorize(subjectOf(res), 'identity:get_domain', { domainId: id })
    const domain = found(await deps.store.getDomain(ctxOf(res), id), 'domain', id)
    res.json({ domain: renderDomain(deps.base, domain) })
  })
}
