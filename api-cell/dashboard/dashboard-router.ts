import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NextFunction, Request, Response } from 'express'
import express, { Router } from 'express'

/** Where the dashboard is served on the compute listener. */
export const DASHBOARD_PREFIX = '/dashboard'

/**
 * What the browser may load and call: only this origin (the assets and the APIs it reads), no
 * inline script, no framing. The dashboard needs nothing else, and a CDN is never asked.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/**
 * The directory of the built dashboard (`npm run build` writes it to `dist/dashboard/`), found from
 * this module whether it runs compiled (`dist/api-cell/dashboard/`) or from source (the tests).
 * Undefined when it was not built.
 */
export function dashboardAssetsDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [resolve(here, '../../dashboard'), resolve(here, '../../dist/dashboard')]
  // The source directory (`dashboard/`, reached from source) has an index.html too, but no bundle.
  return candidates.find((d) => existsSync(join(d, 'index.html')) && existsSync(join(d, 'assets')))
}

/**
 * Serves the operator dashboard's static files (one HTML page, its script and stylesheet). The page
 * holds no data and no secret: it logs in through the identity API (mounted on the same listener
 * under `/identity`) and reads the compute and cell administration APIs with the token it gets,
 * as any client does. Without a build, `/dashboard` answers 404 saying how to build it.
 */
export function dashboardRouter(dir: string | undefined = dashboardAssetsDir()): Router {
  const router = Router()
  router.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', CSP)
    res.setHeader('X-Content-Type-Options', 'nosniff')
    res.setHeader('Referrer-Policy', 'no-referrer')
    next()
  })
  if (dir === undefined) {
    router.use((_req: Request, res: Response) => {
      res.status(404).type('text/plain').send('The dashboard is not built: run `npm run build`.\n')
    })
    return router
  }
  // `/dashboard` -> `/dashboard/`, so that the page's relative asset URLs resolve.
  router.get('/', (req: Request, res: Response, next: NextFunction) => {
    if (req.originalUrl === DASHBOARD_PREFIX || req.originalUrl.startsWith(`${DASHBOARD_PREFIX}?`)) {
      res.redirect(301, `${DASHBOARD_PREFIX}/`)
      return
    }
    next()
  })
  router.use(
    express.static(dir, {
      index: 'index.html',
      fallthrough: true,
      // Hashed asset names never change content; the page itself is always revalidated.
      setHeaders: (res, path) => res.setHeader('Cache-Control', path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable'),
    }),
  )
  router.use((_req: Request, res: Response) => {
    res.status(404).type('text/plain').send('Not found.\n')
  })
  return router
}
