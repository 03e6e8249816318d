import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { InvalidError } from '../errors.js'

/**
 * Guards every API listener puts in front of its routes, so that malformed input becomes a 400 in
 * the API's own fault shape before any handler (or express's own parameter decoding, which throws a
 * bare `URIError`) sees it.
 */

/**
 * Why `url` (path and query, as received) is not valid percent-encoded UTF-8, or undefined when it
 * is. `%zz`, a lone `%` and escapes that decode to invalid UTF-8 (`%ff`, `%ed%a0%80`) all fail.
 */
export function malformedUrl(url: string): string | undefined {
  try {
    // Decoding the whole string checks every escape; `+` needs no decoding to be valid.
    decodeURIComponent(url)
    return undefined
  } catch {
    return 'The request URL contains malformed percent-encoding (it must be valid UTF-8).'
  }
}

/** Rejects requests whose path or query has malformed percent-encoding with a 400. */
export function percentEncodingGuard(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const why = malformedUrl(req.originalUrl)
    next(why === undefined ? undefined : new InvalidError(why))
  }
}

/** How deeply JSON bodies may nest: far more than any OpenStack request, far less than the stack. */
export const MAX_BODY_DEPTH = 32

/**
 * How deeply `value` nests (a scalar is 0, `{}` and `[]` are 1), counted without recursion and
 * stopping as soon as `limit` is passed, so that a hostile body cannot overflow the stack here
 * (later `JSON.stringify` calls would).
 */
export function nestingDepth(value: unknown, limit = MAX_BODY_DEPTH): number {
  let deepest = 0
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }]
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    const d = depth + 1
    if (d > deepest) deepest = d
    if (deepest > limit) return deepest
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push({ v: child, depth: d })
  }
  return deepest
}

/** Rejects JSON bodies nested deeper than {@link MAX_BODY_DEPTH} with a 400. Mount after the JSON parser. */
export function bodyDepthGuard(limit = MAX_BODY_DEPTH): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const body: unknown = req.body
    next(nestingDepth(body, limit) > limit ? new InvalidError(`The request body nests deeper than ${limit} levels.`) : undefined)
  }
}

/**
 * The value of `key` in `table` only when `table` itself defines it: user input such as
 * `constructor`, `__proto__` or `toString` never reaches `Object.prototype`.
 */
export function ownValue<V>(table: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined
}
