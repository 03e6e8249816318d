import type { Router } from 'express'
import type { RouteDeps } from './route-kit.js'

/** Keystone's current v3 minor version (Zed ships 3.14). */
export const IDENTITY_VERSION_ID = 'v3.14'

function versionDoc(base: string): Record<string, unknown> {
  return {
    id: IDENTITY_VERSION_ID,
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${base}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  }
}

/** `GET /` (300, every version) and `GET /v3` (the v3 document). Unauthenticated. */
export function registerVersionRoutes(router: Router, deps: RouteDeps): void {
  router.get('/', (_req, res) => {
    res.status(300).json({ versions: { values: [versionDoc(deps.base)] } })
  })
  router.get('/v3', (_req, res) => {
    res.json({ version: versionDoc(deps.base) })
  })
}
