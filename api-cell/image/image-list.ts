import { InvalidError } from '../../shared/errors.js'
import type { Image } from './image-model.js'
import { isListed } from './image-visibility.js'
import type { Viewer, VisibilityFilter } from './image-visibility.js'
import type { ImageStatus } from './schema.js'

/** Keys Glance lets a listing sort by. */
export const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at'] as const
/** One of {@link SORT_KEYS}. */
export type SortKey = (typeof SORT_KEYS)[number]
/** Sort directions. */
export const SORT_DIRS = ['asc', 'desc'] as const
/** One of {@link SORT_DIRS}. */
export type SortDir = (typeof SORT_DIRS)[number]

/** Glance's defaults: 25 per page, at most 1000. */
export const DEFAULT_LIMIT = 25
export const MAX_LIMIT = 1000

/** A listing request, already parsed. */
export interface ImageListQuery {
  readonly name?: string
  readonly visibility?: VisibilityFilter
  readonly status?: ImageStatus
  readonly owner?: string
  readonly containerFormat?: string
  readonly diskFormat?: string
  /** Every tag must be present. */
  readonly tags?: readonly string[]
  readonly protected?: boolean
  /** Hidden images are listed only when this is true (and then only them). */
  readonly osHidden?: boolean
  readonly sizeMin?: number
  readonly sizeMax?: number
  /** Custom property filters: exact string match. */
  readonly properties?: Readonly<Record<string, string>>
  readonly limit?: number
  readonly marker?: string
  /** Default `created_at desc`; `created_at` and `id` are appended as tie-breakers. */
  readonly sort?: readonly { readonly key: SortKey; readonly dir: SortDir }[]
}

/** One page of a listing. */
export interface ImagePage {
  readonly images: readonly Image[]
  /** Marker of the next page when this page is full. */
  readonly nextMarker?: string
}

/**
 * Filters `candidates` (visibility and every filter), sorts and cuts one page after `marker`.
 * Pure. An unknown marker (not in the filtered listing) is 400, as Glance answers.
 */
export function selectPage(candidates: readonly Image[], viewer: Viewer, q: ImageListQuery): ImagePage {
  const listed = candidates.filter((i) => isListed(viewer, i, q.visibility) && matches(i, q))
  const sort = [...(q.sort ?? [{ key: 'created_at' as const, dir: 'desc' as const }])]
  const lastDir = sort[sort.length - 1]?.dir ?? 'desc'
  for (const key of ['created_at', 'id'] as const) if (!sort.some((s) => s.key === key)) sort.push({ key, dir: lastDir })
  listed.sort((a, b) => {
    for (const { key, dir } of sort) {
      const c = compare(sortValue(a, key), sortValue(b, key))
      if (c !== 0) return dir === 'asc' ? c : -c
    }
    return 0
  })
  let start = 0
  if (q.marker !== undefined) {
    const at = listed.findIndex((i) => i.id === q.marker)
    if (at < 0) throw new InvalidError(`Invalid marker. Image ${q.marker} could not be found.`)
    start = at + 1
  }
  const limit = Math.min(q.limit ?? DEFAULT_LIMIT, MAX_LIMIT)
  const images = listed.slice(start, start + limit)
  const last = images[images.length - 1]
  return images.length === limit && last !== undefined ? { images, nextMarker: last.id } : { images }
}

function matches(i: Image, q: ImageListQuery): boolean {
  if (q.name !== undefined && i.name !== q.name) return false
  if (q.status !== undefined && i.status !== q.status) return false
  if (q.owner !== undefined && i.owner !== q.owner) return false
  if (q.containerFormat !== undefined && i.containerFormat !== q.containerFormat) return false
  if (q.diskFormat !== undefined && i.diskFormat !== q.diskFormat) return false
  if (q.protected !== undefined && i.protected !== q.protected) return false
  if (i.osHidden !== (q.osHidden ?? false)) return false
  if (q.tags !== undefined && !q.tags.every((t) => i.tags.includes(t))) return false
  if (q.sizeMin !== undefined && (i.size === null || i.size < q.sizeMin)) return false
  if (q.sizeMax !== undefined && (i.size === null || i.size > q.sizeMax)) return false
  for (const [k, v] of Object.entries(q.properties ?? {})) if (!Object.hasOwn(i.properties, k) || i.properties[k] !== v) return false
  return true
}

function sortValue(i: Image, key: SortKey): string | number | null {
  switch (key) {
    case 'name':
      return i.name
    case 'status':
      return i.status
    case 'container_format':
      return i.containerFormat
    case 'disk_format':
      return i.diskFormat
    case 'size':
      return i.size
    case 'id':
      return i.id
    case 'created_at':
      return i.createdAt
    case 'updated_at':
      return i.updatedAt
  }
}

/** Nulls sort first in ascending order, as in MySQL. */
function compare(a: string | number | null, b: string | number | null): number {
  if (a === b) return 0
  if (a === null) return -1
  if (b === null) return 1
  return a < b ? -1 : 1
}
