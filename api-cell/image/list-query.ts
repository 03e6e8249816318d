import { InvalidError } from '../../shared/errors.js'
import { MAX_LIMIT, SORT_DIRS, SORT_KEYS } from './image-list.js'
import type { ImageListQuery, SortDir, SortKey } from './image-list.js'
import type { VisibilityFilter } from './image-visibility.js'
import { IMAGE_STATUSES, VISIBILITIES } from './schema.js'
import type { ImageStatus } from './schema.js'

/** Query keys with a meaning of their own; any other key filters on a custom property. */
const KNOWN_KEYS = new Set([
  'limit',
  'marker',
  'sort',
  'sort_key',
  'sort_dir',
  'name',
  'visibility',
  'status',
  'owner',
  'container_format',
  'disk_format',
  'tag',
  'protected',
  'os_hidden',
  'size_min',
  'size_max',
  'member_status',
  'id',
  'created_at',
  'updated_at',
  'checksum',
  'os_hash_value',
])

/**
 * Parses `GET /v2/images` query parameters (Express's simple parser: strings, or arrays when
 * repeated) into an {@link ImageListQuery}. Bad values are 400, as in Glance.
 */
export function parseListQuery(query: Readonly<Record<string, unknown>>): ImageListQuery {
  const one = (key: string): string | undefined => {
    const v = query[key]
    if (v === undefined) return undefined
    if (typeof v === 'string') return v
    if (Array.isArray(v) && typeof v[v.length - 1] === 'string') return v[v.length - 1] as string
    throw new InvalidError(`Invalid value for query parameter ${key}.`)
  }
  const many = (key: string): string[] => {
    const v = query[key]
    return v === undefined ? [] : (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string')
  }

  const visibility = one('visibility')
  if (visibility !== undefined && visibility !== 'all' && !(VISIBILITIES as readonly string[]).includes(visibility)) {
    throw new InvalidError(`Invalid visibility value: ${visibility}`)
  }
  const status = one('status')
  if (status !== undefined && !(IMAGE_STATUSES as readonly string[]).includes(status)) {
    throw new InvalidError(`Invalid status value: ${status}`)
  }
  const properties: Record<string, string> = {}
  for (const key of Object.keys(query)) {
    const v = one(key)
    // defineProperty: a `__proto__` filter must stay an own key, not re-parent the object.
    if (!KNOWN_KEYS.has(key) && v !== undefined) Object.defineProperty(properties, key, { value: v, enumerable: true, writable: true, configurable: true })
  }
  const tags = many('tag')
  const q: Record<string, unknown> = {
    name: one('name'),
    visibility: visibility as VisibilityFilter,
    status: status as ImageStatus | undefined,
    owner: one('owner'),
    containerFormat: one('container_format'),
    diskFormat: one('disk_format'),
    tags: tags.length === 0 ? undefined : tags,
    protected: bool('protected', one('protected')),
    osHidden: bool('os_hidden', one('os_hidden')),
    sizeMin: int('size_min', one('size_min'), 0, Number.MAX_SAFE_INTEGER),
    sizeMax: int('size_max', one('size_max'), 0, Number.MAX_SAFE_INTEGER),
    properties: Object.keys(properties).length === 0 ? undefined : properties,
    limit: int('limit', one('limit'), 0, Number.MAX_SAFE_INTEGER),
    marker: one('marker'),
    sort: parseSort(one('sort'), many('sort_key'), many('sort_dir')),
  }
  if (typeof q.limit === 'number') q.limit = Math.min(q.limit, MAX_LIMIT)
  return Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined)) as ImageListQuery
}

function parseSort(sort: string | undefined, keys: string[], dirs: string[]): { key: SortKey; dir: SortDir }[] | undefined {
  if (sort !== undefined && (keys.length > 0 || dirs.length > 0)) {
    throw new InvalidError('The "sort" parameter cannot be combined with "sort_key" or "sort_dir".')
  }
  const pairs: [string, string | undefined][] =
    sort !== undefined
      ? sort.split(',').map((s) => {
          const [k, d] = s.trim().split(':')
          return [k ?? '', d]
        })
      : keys.map((k, i) => [k, dirs[i] ?? dirs[0]])
  if (pairs.length === 0) {
    if (dirs.length === 0) return undefined
    pairs.push(['created_at', dirs[0]])
  }
  return pairs.map(([key, dir]) => {
    if (!(SORT_KEYS as readonly string[]).includes(key)) throw new InvalidError(`Invalid sort key: ${key}.`)
    const d = dir ?? 'desc'
    if (!(SORT_DIRS as readonly string[]).includes(d)) throw new InvalidError(`Invalid sort direction: ${d}.`)
    return { key: key as SortKey, dir: d as SortDir }
  })
}

function bool(key: string, v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined
  if (v === 'true' || v === 'True') return true
  if (v === 'false' || v === 'False') return false
  throw new InvalidError(`Invalid value for ${key}: ${v}.`)
}

function int(key: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidError(`${key} param must be a non-negative integer.`)
  return n
}
