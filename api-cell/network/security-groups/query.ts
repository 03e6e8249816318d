import type { Request } from 'express'
import { badRequest } from './neutron-faults.js'

/**
 * Neutron's query parameters: a filter may repeat (`?name=a&name=b` matches either); `fields`
 * picks the attributes shown.
 */

/** Every value of `key` in the query (none: undefined). */
export function queryValues(req: Request, key: string): string[] | undefined {
  const v: unknown = (req.query as Record<string, unknown>)[key]
  if (v === undefined) return undefined
  const list = Array.isArray(v) ? v : [v]
  if (!list.every((x): x is string => typeof x === 'string')) throw badRequest(`Invalid input for ${key}.`)
  return list
}

/** The one value of `key` (the first of a repeated one), or undefined. */
export function queryValue(req: Request, key: string): string | undefined {
  return queryValues(req, key)?.[0]
}

/** `fields` asked for (empty: all). */
export function fieldsOf(req: Request): string[] {
  return queryValues(req, 'fields') ?? []
}

/** The project a list is filtered to: `project_id` or its old name `tenant_id`. */
export function projectFilter(req: Request): string | undefined {
  return queryValue(req, 'project_id') ?? queryValue(req, 'tenant_id')
}

/** The `{ "<key>": {...} }` object of a request body, or Neutron's 400. */
export function resourceBody(body: unknown, key: string): Record<string, unknown> {
  const inner = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)[key] : undefined
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw badRequest(`Unable to find '${key}' in request body`)
  return inner as Record<string, unknown>
}

/**
 * Neutron's paging of a list already in its order: `marker` (an id: the page starts after it) and
 * `limit` (a positive integer). With `limit`, the answer has `<collection>_links` with a `next`
 * link when the page is full, as Neutron's; openstacksdk follows it. Without, everything.
 */
export function paginate<T extends { readonly id: string }>(req: Request, collection: string, items: readonly T[]): { page: T[]; links?: { rel: string; href: string }[] } {
  const limitText = queryValue(req, 'limit')
  const marker = queryValue(req, 'marker')
  let start = 0
  if (marker !== undefined) {
    const at = items.findIndex((i) => i.id === marker)
    if (at < 0) throw badRequest(`Marker ${marker} could not be found.`)
    start = at + 1
  }
  if (limitText === undefined) return { page: items.slice(start) }
  const limit = Number(limitText)
  if (limitText.trim() === '' || !Number.isInteger(limit) || limit < 0) throw badRequest(`Invalid input for limit. Reason: '${limitText}' is not a valid integer.`)
  // `limit=0` means no limit in Neutron.
  const page = limit === 0 ? items.slice(start) : items.slice(start, start + limit)
  const last = page[page.length - 1]
  const links: { rel: string; href: string }[] = []
  if (limit > 0 && last !== undefined && start + limit < items.length) {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(req.query as Record<string, unknown>)) {
      if (k === 'marker') continue
      for (const one of Array.isArray(v) ? v : [v]) if (typeof one === 'string') params.append(k, one)
    }
    params.set('marker', last.id)
    links.push({ rel: 'next', href: `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}/v2.0/${collection}?${params.toString()}` })
  }
  return { page, links }
}
