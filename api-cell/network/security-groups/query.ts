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
