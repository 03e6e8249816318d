import type { Request } from 'express'
import { badRequest, NeutronError } from './faults.js'

/** Query parameters that shape a list rather than filter it. */
const SHAPING = new Set(['fields', 'limit', 'marker', 'page_reverse', 'sort_key', 'sort_dir', 'tags', 'tags-any', 'not-tags', 'not-tags-any'])

/** All values of a query parameter (repeated parameters are alternatives, as in Neutron). */
function valuesOf(q: Request['query'], key: string): string[] {
  const v = q[key]
  if (v === undefined) return []
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string')
}

/** Whether one attribute value matches one filter value (`true`/`false` for booleans, `a=b` inside lists of objects). */
function matches(attr: unknown, wanted: string): boolean {
  if (Array.isArray(attr)) {
    if (wanted.includes('=')) {
      const [k = '', v = ''] = wanted.split('=', 2)
      return attr.some((x) => typeof x === 'object' && x !== null && String((x as Record<string, unknown>)[k]) === v)
    }
    return attr.some((x) => String(x) === wanted)
  }
  if (typeof attr === 'boolean') return String(attr) === wanted.toLowerCase() || (wanted === '1' && attr) || (wanted === '0' && !attr)
  if (attr === null) return wanted === '' || wanted === 'None'
  return String(attr) === wanted
}

const compare = (a: unknown, b: unknown): number => {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  const x = a === null || a === undefined ? '' : String(a)
  const y = b === null || b === undefined ? '' : String(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * Neutron's list semantics over rendered items: filters by any top-level attribute
 * (`?name=x&device_id=y`, repeated = any of; `fixed_ips=ip_address=1.2.3.4`), `sort_key`/`sort_dir`
 * (default by id), paging with `limit`, `marker` (an id; unknown: 404) and `page_reverse`, a
 * `<collection>_links` list with `rel: next` (and `previous` after a marker), and `fields`.
 * Unknown filter keys match nothing in Neutron's older releases and are refused in newer ones;
 * we ignore them, which is what clients sending extension filters expect.
 */
export function listBody(req: Request, collection: string, items: readonly Record<string, unknown>[], selfUrl: string): Record<string, unknown> {
  const q = req.query
  let out = items.filter((item) => {
    for (const key of Object.keys(q)) {
      if (SHAPING.has(key) || !(key in item)) continue
      const wanted = valuesOf(q, key)
      if (wanted.length > 0 && !wanted.some((w) => matches(item[key], w))) return false
    }
    return true
  })
  const keys = valuesOf(q, 'sort_key')
  const dirs = valuesOf(q, 'sort_dir')
  for (const d of dirs) if (d !== 'asc' && d !== 'desc') throw badRequest(`Invalid input for sort_dir. Reason: '${d}' is not in ['asc', 'desc'].`, 'HTTPBadRequest')
  const sortKeys = keys.length === 0 ? ['id'] : [...keys, 'id']
  for (const k of keys) if (items.length > 0 && !(k in items[0]!)) throw badRequest(`${k} is an invalid attribute for sort_keys`, 'HTTPBadRequest')
  const reverse = valuesOf(q, 'page_reverse')[0]?.toLowerCase() === 'true'
  out = [...out].sort((a, b) => {
    for (let i = 0; i < sortKeys.length; i += 1) {
      const k = sortKeys[i]!
      const c = compare(a[k], b[k]) * ((dirs[i] ?? 'asc') === 'desc' ? -1 : 1)
      if (c !== 0) return reverse ? -c : c
    }
    return 0
  })
  const limitText = valuesOf(q, 'limit')[0]
  const limit = limitText === undefined ? undefined : Number(limitText)
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw badRequest(`Invalid input for limit. Reason: '${limitText}' is not an integer >= 0.`, 'HTTPBadRequest')
  const marker = valuesOf(q, 'marker')[0]
  if (marker !== undefined) {
    const at = out.findIndex((x) => x['id'] === marker)
    if (at < 0) throw new NeutronError({ type: 'HTTPNotFound', status: 404, message: `Marker ${marker} could not be found.` })
    out = out.slice(at + 1)
  }
  const body: Record<string, unknown> = {}
  let page = out
  if (limit !== undefined && limit > 0 && out.length > limit) page = out.slice(0, limit)
  if (reverse) page = [...page].reverse()
  const links: { rel: string; href: string }[] = []
  if (limit !== undefined && limit > 0) {
    const base = new URLSearchParams()
    for (const key of Object.keys(q)) if (key !== 'marker' && key !== 'page_reverse') for (const v of valuesOf(q, key)) base.append(key, v)
    const last = reverse ? page[0] : page[page.length - 1]
    const first = reverse ? page[page.length - 1] : page[0]
    if (out.length > limit && last !== undefined) {
      const next = new URLSearchParams(base)
      next.set('marker', String(last['id']))
      if (reverse) next.set('page_reverse', 'True')
      links.push({ rel: 'next', href: `${selfUrl}?${next.toString()}` })
    }
    if (marker !== undefined && first !== undefined) {
      const prev = new URLSearchParams(base)
      prev.set('marker', String(first['id']))
      if (!reverse) prev.set('page_reverse', 'True')
      links.push({ rel: 'previous', href: `${selfUrl}?${prev.toString()}` })
    }
  }
  const fields = valuesOf(q, 'fields').flatMap((f) => f.split(','))
  body[collection] = fields.length === 0 ? page : page.map((x) => Object.fromEntries(fields.filter((f) => f in x).map((f) => [f, x[f]])))
  if (links.length > 0) body[`${collection}_links`] = links
  return body
}

/** `fields=` on a single resource. */
export function withFields(req: Request, item: Record<string, unknown>): Record<string, unknown> {
  const fields = valuesOf(req.query, 'fields').flatMap((f) => f.split(','))
  return fields.length === 0 ? item : Object.fromEntries(fields.filter((f) => f in item).map((f) => [f, item[f]]))
}
