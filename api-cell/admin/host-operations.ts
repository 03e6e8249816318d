import type { RequestContext } from '../../shared/context.js'
import { isWithin } from '../../shared/cell-link/types.js'
import { isDuplicateKey } from '../../shared/db/database.js'
import { ConflictError, NotFoundError } from '../../shared/errors.js'
import { API_PATH } from '../cells/cell-tree.js'
import { askTimeoutContext, messageOf } from './cell-admin-call.js'
import { cellRow } from './cell-reads.js'
import type { AdminDeps } from './deps.js'

/** A compute host as a cell reports it (the fields the admin API reads of `ListHosts`). */
interface ReportedHost {
  readonly cellPath: string
  readonly host: string
  readonly vcpus: number
  readonly vcpusUsed: number
  readonly memoryMb: number
  readonly memoryMbUsed: number
  readonly runningVms: number
  readonly service: { readonly up: boolean; readonly disabled: boolean } | null
}

/** One host as `host list` shows it: what its cell reports, and how the API maps it. */
export interface HostView {
  readonly host: string
  /** The cell that reports it, else (not reported) the cell it is mapped to. */
  readonly cell_path: string
  /** The cell the API maps it to (null: not mapped; `host discover` maps it). */
  readonly mapped_cell: string | null
  /** `unknown`: mapped but not reported (cell unreachable, or host gone). */
  readonly state: 'up' | 'down' | 'unknown'
  readonly disabled: boolean
  readonly instances: number
  readonly vcpus: number
  readonly vcpus_used: number
  readonly memory_mb: number
  readonly memory_mb_used: number
}

/** What the cells said, and which regions could not be asked. */
interface Reported {
  readonly hosts: ReportedHost[]
  readonly unreachable: string[]
}

function isReportedHost(h: unknown): h is ReportedHost {
  const r = h as Partial<ReportedHost> | null
  return typeof r?.host === 'string' && typeof r.cellPath === 'string'
}

/** The regions to ask for hosts `within` a cell (all when null). Unknown cells are 404. */
async function regionsFor(d: AdminDeps, within: string | null): Promise<string[]> {
  if (within !== null) {
    const row = await cellRow(d.db, within)
    const region = row.path.split('!').slice(0, 2).join('!')
    return row.path.startsWith(`${API_PATH}!`) ? [region] : []
  }
  const rows = await d.db.selectFrom('cells').select('path').where('parent_path', '=', API_PATH).orderBy('path').execute()
  return rows.map((r) => r.path)
}

/** Asks the regions for their compute hosts (in parallel, each with a deadline), keeping those `within`. */
async function reportedHosts(d: AdminDeps, ctx: RequestContext, within: string | null): Promise<Reported> {
  const regions = await regionsFor(d, within)
  const asking = askTimeoutContext(ctx)
  const unreachable: string[] = []
  const lists = await Promise.all(
    regions.map(async (r) => {
      try {
        return (await d.tree.clientFor(r).listHosts(asking)).filter(isReportedHost)
      } catch (err) {
        d.log.warn({ requestId: ctx.requestId, region: r, err: messageOf(err) }, 'region did not list its hosts')
        unreachable.push(r)
        return []
      }
    }),
  )
  const hosts = lists.flat().filter((h) => within === null || isWithin(h.cellPath, within))
  return { hosts, unreachable }
}

/** Every host reported by the cells (`within` a cell's subtree), with its mapping, and the mapped hosts nobody reports. */
export async function listHosts(d: AdminDeps, ctx: RequestContext, within: string | null): Promise<{ hosts: HostView[]; unreachable: string[] }> {
  const { hosts, unreachable } = await reportedHosts(d, ctx, within)
  const mappings = await d.db.selectFrom('host_mappings').selectAll().execute()
  const mappedTo = new Map(mappings.map((m) => [m.host, m.cell_path]))
  const out: HostView[] = hosts.map((h) => ({
    host: h.host,
    cell_path: h.cellPath,
    mapped_cell: mappedTo.get(h.host) ?? null,
    state: h.service?.up === true ? 'up' : 'down',
    disabled: h.service?.disabled ?? false,
    instances: h.runningVms,
    vcpus: h.vcpus,
    vcpus_used: h.vcpusUsed,
    memory_mb: h.memoryMb,
    memory_mb_used: h.memoryMbUsed,
  }))
  const seen = new Set(out.map((h) => h.host))
  for (const m of mappings) {
    if (seen.has(m.host) || (within !== null && !isWithin(m.cell_path, within))) continue
    out.push({ host: m.host, cell_path: m.cell_path, mapped_cell: m.cell_path, state: 'unknown', disabled: false, instances: 0, vcpus: 0, vcpus_used: 0, memory_mb: 0, memory_mb_used: 0 })
  }
  out.sort((a, b) => a.cell_path.localeCompare(b.cell_path) || a.host.localeCompare(b.host))
  return { hosts: out, unreachable }
}

/** What a discovery did. */
export interface Discovery {
  readonly discovered: ReadonlyArray<{ readonly host: string; readonly cell_path: string }>
  readonly already_mapped: number
  /** Hosts a cell reports that the API maps to another cell (left as they are). */
  readonly conflicts: ReadonlyArray<{ readonly host: string; readonly mapped_to: string; readonly reported_by: string }>
  readonly unreachable: readonly string[]
}

/**
 * Maps the compute hosts the cells report (`within` a cell's subtree) that the API does not map yet
 * (Nova's `discover_hosts`). Insert-if-absent with duplicate keys tolerated: running it twice, or
 * from two operators at once, maps each host exactly once.
 */
export async function discoverHosts(d: AdminDeps, ctx: RequestContext, within: string | null): Promise<Discovery> {
  const { hosts, unreachable } = await reportedHosts(d, ctx, within)
  const discovered: Array<{ host: string; cell_path: string }> = []
  const conflicts: Array<{ host: string; mapped_to: string; reported_by: string }> = []
  let already = 0
  for (const h of hosts) {
    const existing = await d.db.selectFrom('host_mappings').select('cell_path').where('host', '=', h.host).executeTakeFirst()
    let mappedTo = existing?.cell_path
    if (mappedTo === undefined) {
      try {
        await d.db.insertInto('host_mappings').values({ host: h.host, cell_path: h.cellPath, created_at: Date.now() }).execute()
        discovered.push({ host: h.host, cell_path: h.cellPath })
        continue
      } catch (err) {
        if (!isDuplicateKey(err)) throw err
        mappedTo = (await d.db.selectFrom('host_mappings').select('cell_path').where('host', '=', h.host).executeTakeFirst())?.cell_path
      }
    }
    if (mappedTo === h.cellPath) already += 1
    else if (mappedTo !== undefined) conflicts.push({ host: h.host, mapped_to: mappedTo, reported_by: h.cellPath })
  }
  if (discovered.length > 0) d.log.info({ requestId: ctx.requestId, discovered }, 'hosts discovered')
  return { discovered, already_mapped: already, conflicts, unreachable }
}

/**
 * Drops a host's mapping. Refuses (409) while the API's index has live instances on it. A compute
 * service that still runs is mapped again by the next discovery.
 */
export async function deleteHost(d: AdminDeps, ctx: RequestContext, host: string): Promise<{ deleted: string; cell_path: string }> {
  const m = await d.db.selectFrom('host_mappings').selectAll().where('host', '=', host).executeTakeFirst()
  if (m === undefined) throw new NotFoundError(`Host ${host} is not mapped.`, { host })
  const live = await d.db
    .selectFrom('instance_index')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('host', '=', host)
    .where('vm_state', '!=', 'deleted')
    .executeTakeFirst()
  const n = Number(live?.n ?? 0)
  if (n > 0) throw new ConflictError(`Host ${host} still has ${n} live instance(s); it cannot be deleted.`, { host, instances: n })
  await d.db.deleteFrom('host_mappings').where('host', '=', host).execute()
  d.log.info({ requestId: ctx.requestId, host, cell: m.cell_path }, 'host mapping deleted')
  return { deleted: host, cell_path: m.cell_path }
}
