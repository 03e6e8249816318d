import type { NextFunction, Request, Response } from 'express'
import { AppError, InvalidError } from '../../shared/errors.js'

/** The lowest and highest compute API microversions we serve. */
export const MIN_VERSION = '2.1'
export const MAX_VERSION = '2.93'

/** A parsed microversion: compare with {@link atLeast}. */
export interface Microversion {
  readonly major: number
  readonly minor: number
}

const parse = (v: string): Microversion | undefined => {
  const m = /^(\d+)\.(\d+)$/.exec(v.trim())
  return m === null ? undefined : { major: Number(m[1]), minor: Number(m[2]) }
}

const cmp = (a: Microversion, b: Microversion): number => a.major - b.major || a.minor - b.minor

/** `true` when the request's version is at least `v` (e.g. `atLeast(mv, '2.47')`). */
export function atLeast(mv: Microversion, v: string): boolean {
  // The literals are few and fixed in the code: parsed once each, not once per server of a listing.
  let target = LITERALS.get(v)
  if (target === undefined) {
    target = parse(v)
    if (target === undefined) throw new Error(`bad version literal ${v}`)
    LITERALS.set(v, target)
  }
  return cmp(mv, target) >= 0
}

const LITERALS = new Map<string, Microversion>()

/** 406 with Nova's message. */
class NotAcceptableVersionError extends AppError {
  constructor(requested: string) {
    super({
      code: 'version_not_acceptable',
      status: 406,
      message: `Version ${requested} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`,
    })
  }
}

/** The version the client asked for, from either header, as Nova reads them. */
function requested(req: Request): string | undefined {
  const modern = req.get('openstack-api-version')
  if (modern !== undefined) {
    for (const part of modern.split(',')) {
      const [service, version] = part.trim().split(/\s+/, 2)
      if (service?.toLowerCase() === 'compute' && version !== undefined) return version
    }
  }
  return req.get('x-openstack-nova-api-version')?.trim()
}

/**
 * Negotiates the microversion exactly as Nova: none -> 2.1, `latest` -> the maximum, malformed ->
 * 400, out of range -> 406; echoes the version in both headers with `Vary`. Puts the result on
 * `res.locals.microversion`. `legacy` (the `/v2` API) pins 2.1 and sends no version headers.
 */
export function microversionMiddleware(opts: { readonly legacy: boolean }) {
  const min = parse(MIN_VERSION) as Microversion
  const max = parse(MAX_VERSION) as Microversion
  return (req: Request, res: Response, next: NextFunction): void => {
    if (opts.legacy) {
      res.locals.microversion = min
      next()
      return
    }
    const raw = requested(req)
    let mv: Microversion
    if (raw === undefined) mv = min
    else if (raw.toLowerCase() === 'latest') mv = max
    else {
      const p = parse(raw)
      if (p === undefined) {
        next(new InvalidError(`Invalid format for the requested microversion: ${raw}. It must be of the form X.Y.`))
        return
      }
      if (cmp(p, min) < 0 || cmp(p, max) > 0) {
        setHeaders(res, `${p.major}.${p.minor}`)
        next(new NotAcceptableVersionError(raw))
        return
      }
      mv = p
    }
    res.locals.microversion = mv
    setHeaders(res, `${mv.major}.${mv.minor}`)
    next()
  }
}

function setHeaders(res: Response, v: string): void {
  res.setHeader('OpenStack-API-Version', `compute ${v}`)
  res.setHeader('X-OpenStack-Nova-API-Version', v)
  res.setHeader('Vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version')
}

/** The negotiated microversion of this request. */
export function microversionOf(res: Response): Microversion {
  return (res.locals.microversion as Microversion | undefined) ?? (parse(MIN_VERSION) as Microversion)
}
