import type { Request, Response } from 'express'
import { Router } from 'express'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { contextOf } from '../../identity/auth.js'
import { requireAdmin, requireAdminOrProject } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { intQuery, queryParam } from '../parameter-types.js'
import { linkBase, regionOf } from '../request-scope.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Nova's `max_limit`. */
const MAX_LIMIT = 1000
const FORMAT = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/
const novaTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '000')

/** One instance's usage in the period (Nova's `server_usages` entry). */
interface ServerUsage {
  readonly instance_id: string
  readonly name: string
  readonly tenant_id: string
  readonly flavor: string
  readonly hours: number
  readonly memory_mb: number
  readonly local_gb: number
  readonly vcpus: number
  readonly started_at: string
  readonly ended_at: string | null
  readonly state: string
  readonly uptime: number
}

/**
 * `GET /os-simple-tenant-usage` (admin, every project) and `/os-simple-tenant-usage/{project}`
 * (the project or an admin): instance hours and the vCPU, RAM and disk hours they add up to in a
 * period (`start`, `end`; `detailed=1` lists the servers), paged by instance from 2.40 (`limit`,
 * `marker`, `tenant_usages_links`). Read from the API cell's index and the owning cells' records
 * (launch times); deleted instances count until their deletion.
 */
export function tenantUsageRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const period = (req: Request): { start: number; stop: number; detailed: boolean } => {
    const parse = (v: string | undefined): number => {
      if (v === undefined || v === '') return Date.now()
      const t = FORMAT.test(v) ? Date.parse(`${v.replace(' ', 'T')}Z`) : Number.NaN
      if (Number.isNaN(t)) throw new InvalidError('Invalid start time. Datetime is in invalid format')
      return t
    }
    const start = parse(queryParam(req.query['start']))
    const stop = Math.min(parse(queryParam(req.query['end'])), Date.now())
    if (!(start < parse(queryParam(req.query['end'])))) throw new InvalidError('Invalid start time. The start time cannot occur after the end time.')
    return { start, stop, detailed: queryParam(req.query['detailed']) === '1' }
  }

  const usages = async (res: Response, p: { start: number; stop: number }, project: string | undefined, limit: number, marker: string | undefined): Promise<ServerUsage[]> => {
    let q = d.db
      .selectFrom('instance_index')
      .leftJoin('quota_instance_usage', 'quota_instance_usage.instance_uuid', 'instance_index.uuid')
      .leftJoin('flavors', 'flavors.flavorid', 'instance_index.flavor_id')
      .select([
        'instance_index.uuid', 'instance_index.name', 'instance_index.project_id', 'instance_index.vm_state', 'instance_index.created_at',
        'instance_index.updated_at', 'instance_index.cell_path', 'quota_instance_usage.vcpus as q_vcpus', 'quota_instance_usage.memory_mb as q_memory',
        'flavors.name as flavor_name', 'flavors.root_gb', 'flavors.ephemeral_gb', 'flavors.vcpus as f_vcpus', 'flavors.memory_mb as f_memory',
      ])
      .where('instance_index.created_at', '<=', p.stop)
      .where((eb) => eb.or([eb('instance_index.vm_state', '!=', 'deleted'), eb('instance_index.updated_at', '>=', p.start)]))
    if (project !== undefined) q = q.where('instance_index.project_id', '=', project)
    const region = regionOf(res)
    if (region !== null) q = q.where('instance_index.region', '=', region)
    let rows = await q.orderBy('instance_index.created_at').orderBy('instance_index.uuid').execute()
    if (marker !== undefined) {
      const i = rows.findIndex((x) => x.uuid === marker)
      if (i < 0) throw new InvalidError(`Marker ${marker.slice(0, 64)} could not be found.`)
      rows = rows.slice(i + 1)
    }
    rows = rows.slice(0, limit)
    const live = await d.locator.many(contextOf(res), (await d.db.selectFrom('instance_index').selectAll().where('uuid', 'in', rows.length === 0 ? [''] : rows.map((x) => x.uuid)).execute()).filter((x) => x.vm_state !== 'deleted'))
    const records = new Map(live.map((l) => [l.record.uuid, l.record]))
    const now = Date.now()
    return rows.map((x) => {
      const rec = records.get(x.uuid)
      const started = rec?.launchedAt ?? Number(x.created_at)
      const ended = x.vm_state === 'deleted' ? Number(x.updated_at) : (rec?.terminatedAt ?? null)
      const from = Math.max(started, p.start)
      const to = Math.min(p.stop, ended ?? p.stop)
      const hours = ended !== null && ended < p.start ? 0 : started > p.stop ? 0 : Math.max(0, (to - from) / 3_600_000)
      return {
        instance_id: x.uuid,
        name: x.name,
        tenant_id: x.project_id,
        flavor: rec?.flavor.name ?? x.flavor_name ?? '',
        hours,
        memory_mb: rec?.flavor.memoryMb ?? x.q_memory ?? x.f_memory ?? 0,
        local_gb: rec === undefined ? (x.root_gb ?? 0) + (x.ephemeral_gb ?? 0) : rec.flavor.rootGb + rec.flavor.ephemeralGb,
        vcpus: rec?.flavor.vcpus ?? x.q_vcpus ?? x.f_vcpus ?? 0,
        started_at: novaTime(started),
        ended_at: ended === null ? null : novaTime(ended),
        state: ended === null ? (rec?.vmState ?? x.vm_state) : 'terminated',
        uptime: Math.floor(((ended ?? now) - started) / 1000),
      }
    })
  }

  const summarize = (servers: readonly ServerUsage[], p: { start: number; stop: number }, detailed: boolean): Array<Record<string, unknown>> => {
    const out = new Map<string, Record<string, unknown> & { total_hours: number; total_local_gb_usage: number; total_vcpus_usage: number; total_memory_mb_usage: number }>()
    for (const s of servers) {
      let t = out.get(s.tenant_id)
      if (t === undefined) {
        t = { tenant_id: s.tenant_id, ...(detailed ? { server_usages: [] as ServerUsage[] } : {}), total_local_gb_usage: 0, total_vcpus_usage: 0, total_memory_mb_usage: 0, total_hours: 0, start: novaTime(p.start), stop: novaTime(p.stop) }
        out.set(s.tenant_id, t)
      }
      t.total_local_gb_usage += s.local_gb * s.hours
      t.total_vcpus_usage += s.vcpus * s.hours
      t.total_memory_mb_usage += s.memory_mb * s.hours
      t.total_hours += s.hours
      if (detailed) (t['server_usages'] as ServerUsage[]).push(s)
    }
    return [...out.values()]
  }

  const paging = (req: Request, res: Response): { limit: number; marker: string | undefined; links: boolean } => {
    const links = atLeast(microversionOf(res), '2.40')
    if (!links) return { limit: MAX_LIMIT, marker: undefined, links }
    return { limit: Math.min(intQuery('limit', req.query['limit']) ?? MAX_LIMIT, MAX_LIMIT), marker: queryParam(req.query['marker']), links }
  }
  const next = (req: Request, res: Response, path: string, servers: readonly ServerUsage[], limit: number): Record<string, unknown> => {
    const last = servers[servers.length - 1]
    if (servers.length < limit || last === undefined) return {}
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(req.query)) if (k !== 'marker' && typeof v === 'string') params.set(k, v)
    params.set('marker', last.instance_id)
    return { rel: 'next', href: `${linkBase(req, res).versioned}/${path}?${params.toString()}` }
  }

  r.get(
    '/os-simple-tenant-usage',
    wrap(async (req, res) => {
      // `/os-simple-tenant-usage/` is a show of an empty project id, which Nova does not route (404).
      if (req.path.endsWith('/')) throw new NotFoundError('The resource could not be found.')
      requireAdmin(res, 'os_compute_api:os-simple-tenant-usage:list')
      const p = period(req)
      const pg = paging(req, res)
      const servers = await usages(res, p, undefined, pg.limit, pg.marker)
      const link = pg.links ? next(req, res, 'os-simple-tenant-usage', servers, pg.limit) : {}
      res.json({ tenant_usages: summarize(servers, p, p.detailed), ...(Object.keys(link).length > 0 ? { tenant_usages_links: [link] } : {}) })
    }),
  )
  r.get(
    '/os-simple-tenant-usage/:project',
    wrap(async (req, res) => {
      const project = String(req.params['project'])
      requireAdminOrProject(res, 'os_compute_api:os-simple-tenant-usage:show', project)
      const p = period(req)
      const pg = paging(req, res)
      const servers = await usages(res, p, project, pg.limit, pg.marker)
      const link = pg.links ? next(req, res, `os-simple-tenant-usage/${encodeURIComponent(project)}`, servers, pg.limit) : {}
      res.json({ tenant_usage: summarize(servers, p, true)[0] ?? {}, ...(Object.keys(link).length > 0 ? { tenant_usage_links: [link] } : {}) })
    }),
  )
  return r
}
