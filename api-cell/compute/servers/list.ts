import type { Request, Response } from 'express'
import type { Selectable } from 'kysely'
import { sql } from 'kysely'
import type { InstanceIndexTable } from '../../db/compute-schema.js'
import { InvalidError } from '../../../shared/errors.js'
import { ownValue } from '../../../shared/http/request-guards.js'
import { authOf, contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { linkBase, regionOf } from '../request-scope.js'
import { checkListParams } from './list-params.js'
import { likePrefilter, nameFilter } from './name-filter.js'
import { filterForStatus } from './status.js'
import { partialSummary, serverDetail, serverSummary } from './views.js'
import { addressesFor, securityGroupsFor } from './addresses.js'
import { CELL0_PATH } from '../../cells/cell0.js'

const SORT_KEYS = { created_at: 'created_at', display_name: 'name', updated_at: 'updated_at', uuid: 'uuid', vm_state: 'vm_state', host: 'host' } as const

/** What Nova accepts for changes-since / changes-before (oslo's ISO 8601 parser). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/** Nova's max_limit: the most servers one page returns. */
const MAX_PAGE = 1000

/** Sort keys whose column is never NULL, so that keyset comparisons see every row. */
const KEYSET_SORT_KEYS: ReadonlySet<string> = new Set(['created_at', 'name', 'updated_at', 'uuid', 'vm_state'])

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined)

/**
 * `GET /servers[/detail]`: reads the API cell's instance index (filters, sorting, paging), then for
 * the detail view fetches the page's records from their owning cells in parallel. A region
 * endpoint lists only its region.
 */
export async function listServers(d: ComputeDeps, req: Request, res: Response, detail: boolean): Promise<void> {
  const auth = authOf(res)
  const q = req.query
  checkListParams(q, microversionOf(res))
  let query = d.db.selectFrom('instance_index').selectAll().where('vm_state', '!=', 'deleted')
  const allTenants = str(q['all_tenants']) !== undefined && auth.isAdmin
  const projectFilter = str(q['project_id']) ?? str(q['tenant_id'])
  // As in Nova, project_id/tenant_id only filter together with all_tenants (else: own project).
  if (!allTenants) query = query.where('project_id', '=', auth.projectId)
  else if (projectFilter !== undefined) query = query.where('project_id', '=', projectFilter)
  const region = regionOf(res)
  if (region !== null) query = query.where('region', '=', region)
  const status = str(q['status'])
  if (status !== undefined) {
    const f = filterForStatus(status)
    if (f === undefined) {
      res.json(detail ? { servers: [] } : { servers: [] })
      return
    }
    if (f.vmStates.length > 0) query = query.where('vm_state', 'in', f.vmStates)
    if (f.taskStates !== undefined) query = query.where('task_state', 'in', f.taskStates)
  }
  const reservation = str(q['reservation_id'])
  if (reservation !== undefined) query = query.where('reservation_id', '=', reservation)
  const image = str(q['image'])
  if (image !== undefined) query = query.where('image_ref', '=', image.split('/').pop() ?? image)
  const flavor = str(q['flavor'])
  if (flavor !== undefined) query = query.where('flavor_id', '=', flavor.split('/').pop() ?? flavor)
  const host = str(q['host'])
  if (host !== undefined && auth.isAdmin) query = query.where('host', '=', host)
  const az = str(q['availability_zone'])
  // From 2.83 these filters are no longer admin-only (Nova ignores them for others before).
  const openFilters = auth.isAdmin || atLeast(microversionOf(res), '2.83')
  if (az !== undefined && openFilters) query = query.where('availability_zone', '=', az)
  if (openFilters) {
    const userId = str(q['user_id'])
    if (userId !== undefined) query = query.where('user_id', '=', userId)
    const vmState = str(q['vm_state'])
    if (vmState !== undefined) query = query.where('vm_state', '=', vmState)
    const taskState = str(q['task_state'])
    if (taskState !== undefined) query = query.where('task_state', '=', taskState)
    const powerState = str(q['power_state'])
    if (powerState !== undefined) query = query.where('power_state', '=', /^\d+$/.test(powerState) ? Number(powerState) : -1)
  }
  const since = str(q['changes-since'])
  if (since !== undefined) {
    const t = ISO_8601.test(since) ? Date.parse(since) : Number.NaN
    if (Number.isNaN(t)) throw new InvalidError(`Invalid filter field: changes-since. ${since} is not a valid date`)
    query = query.where('updated_at', '>=', t)
  }
  const sortKeyParam = str(q['sort_key']) ?? 'created_at'
  const sortKey = ownValue<string>(SORT_KEYS, sortKeyParam) as (typeof SORT_KEYS)[keyof typeof SORT_KEYS] | undefined
  if (sortKey === undefined) throw new InvalidError(`Invalid sort_key ${sortKeyParam}`)
  const sortDir = str(q['sort_dir']) ?? 'desc'
  if (sortDir !== 'asc' && sortDir !== 'desc') throw new InvalidError(`Invalid sort_dir ${sortDir}`)
  const limitRaw = str(q['limit'])
  let limit: number | undefined
  if (limitRaw !== undefined) {
    if (!/^\d+$/.test(limitRaw)) throw new InvalidError(`Invalid input for query parameter limit: ${limitRaw}`)
    limit = Math.min(Number(limitRaw), MAX_PAGE)
  }
  const pageSize = limit ?? MAX_PAGE
  const name = str(q['name'])
  // Compiled before any query runs: an invalid pattern is a 400 whatever else the request asks.
  const matches = name === undefined ? undefined : nameFilter(name)
  const tagMatch = atLeast(microversionOf(res), '2.26') ? tagFilter(q) : undefined
  const marker = str(q['marker'])
  let page: Selectable<InstanceIndexTable>[]
  if (name === undefined && tagMatch === undefined && KEYSET_SORT_KEYS.has(sortKey)) {
    // Keyset paging in SQL: the page is read directly, however many instances there are.
    if (marker !== undefined) {
      let m = d.db.selectFrom('instance_index').select(['uuid', sortKey]).where('uuid', '=', marker)
      if (!auth.isAdmin) m = m.where('project_id', '=', auth.projectId)
      const at = (await m.executeTakeFirst()) as Record<string, string | number> | undefined
      if (at === undefined) throw new InvalidError(`marker [${marker}] not found`)
      const v = at[sortKey] as string | number
      const cmp = sortDir === 'asc' ? '>' : '<'
      query = query.where((eb) => eb.or([eb(sortKey, cmp, v), eb.and([eb(sortKey, '=', v), eb('uuid', cmp, marker)])]))
    }
    page = await query.orderBy(sortKey, sortDir).orderBy('uuid', sortDir).limit(pageSize).execute()
  } else {
    // A name regex (no portable REGEXP in SQL) or a nullable sort key: filter and page in memory,
    // over the few columns the filters need; a plain-string name is narrowed in SQL first.
    const like = name === undefined ? undefined : likePrefilter(name)
    let narrow = query.clearSelect().select(['uuid', 'name', 'tags'])
    if (like !== undefined) narrow = narrow.where(sql<boolean>`${sql.ref('name')} like ${like} escape '!'`)
    let rows = await narrow.orderBy(sortKey, sortDir).orderBy('uuid', sortDir).execute()
    if (matches !== undefined) rows = rows.filter((r) => matches(r.name))
    if (tagMatch !== undefined) rows = rows.filter((r) => tagMatch(JSON.parse(r.tags) as string[]))
    if (marker !== undefined) {
      const i = rows.findIndex((r) => r.uuid === marker)
      if (i < 0) throw new InvalidError(`marker [${marker}] not found`)
      rows = rows.slice(i + 1)
    }
    const uuids = rows.slice(0, pageSize).map((r) => r.uuid)
    const full = uuids.length === 0 ? [] : await d.db.selectFrom('instance_index').selectAll().where('uuid', 'in', uuids).execute()
    const byUuid = new Map(full.map((r) => [r.uuid, r]))
    page = uuids.flatMap((u) => byUuid.get(u) ?? [])
  }
  const base = linkBase(req, res)
  const body: Record<string, unknown> = {}
  if (detail) {
    const found = await d.locator.many(contextOf(res), page)
    const mv = microversionOf(res)
    const addresses = await addressesFor(d, found.map((l) => l.record.uuid))
    const groups = await securityGroupsFor(d, found.map((l) => l.record.uuid))
    body['servers'] = found.map((l) => {
      const securityGroups = groups.get(l.record.uuid)
      return serverDetail(base, l.record, { mv, isAdmin: auth.isAdmin, unknown: l.unknown, addresses: addresses.get(l.record.uuid) ?? {}, ...(securityGroups === undefined ? {} : { securityGroups }) })
    })
  } else {
    // From 2.69 a server whose cell is down is listed as Nova's partial record.
    const partial = atLeast(microversionOf(res), '2.69')
    body['servers'] = page.map((r) =>
      partial && r.cell_path !== null && r.cell_path !== CELL0_PATH && d.tree.isDown(r.cell_path)
        ? partialSummary(base, r)
        : serverSummary(base, { uuid: r.uuid, name: r.name }),
    )
  }
  if (limit !== undefined && page.length === limit && page.length > 0) {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(q)) if (k !== 'marker' && typeof v === 'string') params.set(k, v)
    params.set('marker', page[page.length - 1]!.uuid)
    body['servers_links'] = [{ rel: 'next', href: `${base.versioned}/servers${detail ? '/detail' : ''}?${params.toString()}` }]
  }
  res.json(body)
}

/**
 * The 2.26 tag filters, each a comma-separated list: `tags` (has all), `tags-any` (has one),
 * `not-tags` (lacks at least one), `not-tags-any` (has none). Undefined when none is given.
 */
function tagFilter(q: Request['query']): ((tags: readonly string[]) => boolean) | undefined {
  const list = (k: string): string[] | undefined => str(q[k])?.split(',').filter((t) => t !== '')
  const all = list('tags')
  const any = list('tags-any')
  const notAll = list('not-tags')
  const notAny = list('not-tags-any')
  if (all === undefined && any === undefined && notAll === undefined && notAny === undefined) return undefined
  return (tags) => {
    const has = (t: string): boolean => tags.includes(t)
    if (all !== undefined && !all.every(has)) return false
    if (any !== undefined && !any.some(has)) return false
    if (notAll !== undefined && notAll.length > 0 && notAll.every(has)) return false
    if (notAny !== undefined && notAny.some(has)) return false
    return true
  }
}
