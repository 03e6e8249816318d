import type { Request, Response } from 'express'
import { Router } from 'express'
import { InvalidError, NotFoundError, NotImplementedError } from '../../../shared/errors.js'
import { contextOf } from '../../identity/auth.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import type { ServicedHost } from '../hosts/host-inventory.js'
import { markDownCells } from '../hosts/cell-hosts.js'
import { isUuidLike, numberedHosts, serviced, strictBool } from '../hosts/host-inventory.js'
import type { Microversion } from '../microversion.js'
import { atLeast, microversionOf } from '../microversion.js'
import { linkBase, regionOf } from '../request-scope.js'
import type { HostedServer } from './views.js'
import { hypervisorView, statisticsView } from './views.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Nova's largest page (its `[api] max_limit` default). */
const MAX_LIMIT = 1000

const POLICY = 'os_compute_api:os-hypervisors'

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/** Servers (not deleted) per host name, from the API cell's instance index. */
async function serversByHost(d: ComputeDeps, hosts: readonly string[]): Promise<Map<string, Array<HostedServer & { busy: boolean }>>> {
  const out = new Map<string, Array<HostedServer & { busy: boolean }>>()
  if (hosts.length === 0) return out
  const rows = await d.db
    .selectFrom('instance_index')
    .select(['uuid', 'name', 'host', 'task_state'])
    .where('vm_state', '!=', 'deleted')
    .where('host', 'in', [...hosts])
    .orderBy('created_at')
    .orderBy('uuid')
    .execute()
  for (const r of rows) {
    if (r.host === null) continue
    const list = out.get(r.host) ?? []
    list.push({ uuid: r.uuid, name: r.name, busy: r.task_state !== null })
    out.set(r.host, list)
  }
  return out
}

const workloadsOf = (servers: Map<string, Array<{ busy: boolean }>>): Map<string, number> =>
  new Map([...servers].map(([host, list]) => [host, list.filter((s) => s.busy).length]))

/** Nova's `hypervisor_hostname LIKE %pattern%` search; 404 when nothing matches. */
function matching(hosts: readonly ServicedHost[], pattern: string): ServicedHost[] {
  const p = pattern.toLowerCase()
  const found = hosts.filter((h) => h.host.hypervisorHostname.toLowerCase().includes(p))
  if (found.length === 0) throw new NotFoundError(`No hypervisor matching '${pattern}' could be found.`)
  return found
}

/** Finds a hypervisor by the id form of the microversion: uuid from 2.53 (else 400), integer before (else 404). */
function findById(hosts: readonly ServicedHost[], id: string, mv: Microversion): ServicedHost {
  const notFound = new NotFoundError(`Hypervisor with ID '${id}' could not be found.`)
  if (atLeast(mv, '2.53')) {
    if (!isUuidLike(id)) throw new InvalidError(`Invalid uuid ${id}`)
    const h = hosts.find((x) => x.host.nodeUuid === id.toLowerCase())
    if (h === undefined) throw notFound
    return h
  }
  if (!/^\d+$/.test(id)) throw notFound
  const h = hosts.find((x) => x.hypervisorId === Number(id))
  if (h === undefined) throw notFound
  return h
}

/**
 * `/os-hypervisors` (admin only): every compute node of the caller's endpoint (the federation, or a
 * region), gathered from the cells. List, detail, show, statistics (before 2.88), uptime (before
 * 2.88; 501: our drivers cannot tell it), and the hostname search: `/{pattern}/search` and
 * `/{pattern}/servers` before 2.53, `?hypervisor_hostname_pattern=&with_servers=` from 2.53.
 * Paging (`limit`, `marker`) from 2.33.
 */
export function hypervisorsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const hostsFor = async (res: Response): Promise<ServicedHost[]> => serviced(await numberedHosts(d, contextOf(res), regionOf(res)))

  const list = (detail: boolean) =>
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:${detail ? 'list-detail' : 'list'}`)
      const mv = microversionOf(res)
      const q = req.query
      let pattern: string | undefined
      let withServers = false
      if (atLeast(mv, '2.53')) {
        pattern = str(q['hypervisor_hostname_pattern'])
        if (q['with_servers'] !== undefined) {
          const b = strictBool(q['with_servers'])
          if (b === undefined) throw new InvalidError(`Invalid input for query parameters with_servers. Value: ${String(q['with_servers'])}. Unrecognized value, acceptable values are: true, false`)
          withServers = b
        }
      }
      let limit = MAX_LIMIT
      let marker: string | undefined
      const paging = atLeast(mv, '2.33')
      if (paging) {
        if (q['limit'] !== undefined) {
          const l = str(q['limit'])
          if (l === undefined || !/^\d+$/.test(l)) throw new InvalidError(`Invalid input for query parameters limit. Value: ${String(q['limit'])}.`)
          limit = Math.min(Number(l), MAX_LIMIT)
        }
        marker = str(q['marker'])
        if (pattern !== undefined && (q['limit'] !== undefined || marker !== undefined)) {
          throw new InvalidError('Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.')
        }
      }
      let hosts = await hostsFor(res)
      await markDownCells(d, res, regionOf(res))
      if (pattern !== undefined) hosts = matching(hosts, pattern)
      if (marker !== undefined) {
        const m = marker
        const i = hosts.findIndex((h) => (atLeast(mv, '2.53') ? h.host.nodeUuid === m : String(h.hypervisorId) === m))
        if (i < 0) throw new InvalidError(`marker [${m}] not found`)
        hosts = hosts.slice(i + 1)
      }
      const page = hosts.slice(0, limit)
      const servers = withServers || detail ? await serversByHost(d, page.map((h) => h.host.host)) : new Map()
      const workloads = workloadsOf(servers)
      const body: Record<string, unknown> = {
        hypervisors: page.map((h) =>
          hypervisorView(h, {
            mv,
            detail,
            ...(withServers ? { servers: servers.get(h.host.host) ?? [], withServers } : {}),
            workload: workloads.get(h.host.host) ?? 0,
          }),
        ),
      }
      if (paging && pattern === undefined && page.length === limit && page.length > 0) {
        const last = page[page.length - 1]!
        const params = new URLSearchParams({ limit: String(limit), marker: atLeast(mv, '2.53') ? last.host.nodeUuid : String(last.hypervisorId) })
        if (withServers) params.set('with_servers', 'True')
        body['hypervisors_links'] = [{ rel: 'next', href: `${linkBase(req, res).versioned}/os-hypervisors${detail ? '/detail' : ''}?${params.toString()}` }]
      }
      res.json(body)
    })

  r.get('/os-hypervisors', list(false))
  r.get('/os-hypervisors/detail', list(true))
  r.get(
    '/os-hypervisors/statistics',
    wrap(async (_req, res) => {
      requireAdmin(res, `${POLICY}:statistics`)
      if (atLeast(microversionOf(res), '2.88')) throw new NotFoundError('The resource could not be found.')
      const hosts = await hostsFor(res)
      const servers = await serversByHost(d, hosts.map((h) => h.host.host))
      res.json({ hypervisor_statistics: statisticsView(hosts, workloadsOf(servers)) })
    }),
  )
  r.get(
    '/os-hypervisors/:id',
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:show`)
      const mv = microversionOf(res)
      let withServers = false
      if (atLeast(mv, '2.53') && req.query['with_servers'] !== undefined) {
        const b = strictBool(req.query['with_servers'])
        if (b === undefined) throw new InvalidError(`Invalid input for query parameters with_servers. Value: ${String(req.query['with_servers'])}.`)
        withServers = b
      }
      const h = findById(await hostsFor(res), String(req.params['id']), mv)
      const servers = await serversByHost(d, [h.host.host])
      const mine = servers.get(h.host.host) ?? []
      res.json({
        hypervisor: hypervisorView(h, {
          mv,
          detail: true,
          ...(withServers ? { servers: mine, withServers } : {}),
          workload: mine.filter((s) => s.busy).length,
        }),
      })
    }),
  )
  r.get(
    '/os-hypervisors/:id/uptime',
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:uptime`)
      const mv = microversionOf(res)
      if (atLeast(mv, '2.88')) throw new NotFoundError('The resource could not be found.')
      const h = findById(await hostsFor(res), String(req.params['id']), mv)
      const uptime = await d.tree
        .clientFor(h.host.cellPath)
        .cellAdmin(contextOf(res), { cellPath: h.host.cellPath, op: 'host_uptime', args: { host: h.host.host } })
        .catch((err: unknown) => {
          // A compute that does not answer has no uptime to tell (Nova: 501 from the driver).
          throw new NotImplementedError(`The uptime of ${h.host.host} is not available: ${err instanceof Error ? err.message : String(err)}`)
        })
      res.json({ hypervisor: { ...hypervisorView(h, { mv, detail: false }), uptime } })
    }),
  )
  const search = (withServers: boolean) =>
    wrap(async (req, res) => {
      requireAdmin(res, `${POLICY}:${withServers ? 'servers' : 'search'}`)
      const mv = microversionOf(res)
      if (atLeast(mv, '2.53')) throw new NotFoundError('The resource could not be found.')
      const hosts = matching(await hostsFor(res), String(req.params['pattern']))
      const servers = withServers ? await serversByHost(d, hosts.map((h) => h.host.host)) : new Map<string, HostedServer[]>()
      res.json({
        hypervisors: hosts.map((h) => hypervisorView(h, { mv, detail: false, ...(withServers ? { servers: servers.get(h.host.host) ?? [] } : {}) })),
      })
    })
  r.get('/os-hypervisors/:pattern/search', search(false))
  r.get('/os-hypervisors/:pattern/servers', search(true))
  return r
}
