import type { Router } from 'express'
import { adminRouter } from '../../api-cell/admin/admin-router.js'
import type { AdminDeps } from '../../api-cell/admin/deps.js'
import type { ComputeDeps } from '../../api-cell/compute/deps.js'
import { computeApp } from '../../api-cell/compute/app.js'
import type { CatalogConfig } from '../../api-cell/identity/catalog.js'
import { identityRouter } from '../../api-cell/identity/router.js'
import type { TokenService } from '../../api-cell/identity/tokens.js'
import type { FileUrlSigner } from '../../api-cell/image/file-url-signer.js'
import { imageRouter } from '../../api-cell/image/router.js'
import type { ImageService } from '../../api-cell/image/store.js'

/** One route of an API: the HTTP method (lower case; `_all` for any) and its path template. */
export interface RouteEntry {
  readonly api: 'identity' | 'compute' | 'image' | 'admin'
  readonly method: string
  readonly path: string
}

interface Layer {
  readonly route?: { readonly path: string; readonly methods: Readonly<Record<string, boolean>> }
  readonly handle?: { readonly stack?: readonly Layer[] }
}

function walk(api: RouteEntry['api'], stack: readonly Layer[], out: Map<string, RouteEntry>): void {
  for (const l of stack) {
    if (l.route !== undefined) {
      for (const method of Object.keys(l.route.methods)) out.set(`${method} ${l.route.path}`, { api, method, path: l.route.path })
    } else if (Array.isArray(l.handle?.stack)) {
      walk(api, l.handle.stack, out)
    }
  }
}

const stackOf = (r: unknown): readonly Layer[] => (r as { stack: readonly Layer[] }).stack

/**
 * Every route the identity, compute, image and cell admin routers register, read from the routers
 * themselves (built with inert dependencies: nothing is served through them), so that a route added
 * later is fuzzed without anyone listing it. Compute paths are relative to `/v2.1`, admin paths to
 * `/cell-admin/v1` (its version root `/` included, which is then simply not found).
 */
export function enumerateRoutes(): RouteEntry[] {
  const out = new Map<string, RouteEntry>()
  const inert = {} as never
  const compute = computeApp({ regions: [] } as unknown as ComputeDeps, inert as TokenService)
  walk('compute', stackOf((compute as unknown as { router: Router }).router), out)
  const catalog = (): CatalogConfig => inert
  walk('identity', stackOf(identityRouter({ db: inert, tokens: inert as TokenService, catalog, publicUrl: 'http://inert' })), out)
  const signer = { verify: () => false } as unknown as FileUrlSigner
  walk('image', stackOf(imageRouter({ images: inert as ImageService, publicUrl: 'http://inert', signer, auth: (_q, _s, next) => next() })), out)
  walk('admin', stackOf(adminRouter({} as AdminDeps, inert as TokenService)), out)
  return [...out.values()]
}
