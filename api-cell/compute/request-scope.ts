import type { Request, Response } from 'express'
import type { LinkBase } from './servers/views.js'

/**
 * Where the request came in: the global compute endpoint or a region's, and the URLs its links
 * should point at. Set by the compute app on `res.locals`.
 */
export function regionOf(res: Response): string | null {
  return (res.locals.region as string | undefined) ?? null
}

/** Links relative to the endpoint the client used (honours a proxy's Host header). */
export function linkBase(req: Request, res: Response): LinkBase {
  const prefix = (res.locals.prefix as string | undefined) ?? ''
  const root = `${req.protocol}://${req.get('host') ?? 'localhost'}${prefix}`
  return { versioned: `${root}/${(res.locals.apiVersionPath as string | undefined) ?? 'v2.1'}`, unversioned: root }
}
