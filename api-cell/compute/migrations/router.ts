import type { Request, Response } from 'express'
import { Router } from 'express'
import { z } from 'zod'
import type { RequestContext } from '../../../shared/context.js'
import { ConflictError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import { CELL0_PATH } from '../../cells/cell0.js'
import { API_PATH } from '../../cells/cell-tree.js'
import { authOf, contextOf } from '../../identity/auth.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import type { Microversion } from '../microversion.js'
import { atLeast, microversionOf } from '../microversion.js'
import { regionOf } from '../request-scope.js'
import { migrationView, regionOf as sagaRegion } from '../cross-cell/saga-store.js'
import { LegacyIds } from '../hosts/legacy-ids.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/**
 * One migration as a cell's conductor answers `list_migrations` (JSON across gRPC). The API cell
 * keeps its own description of that contract and checks each entry: one it cannot read is left out.
 */
const migrationSchema = z.object({
  id: z.number(),
  uuid: z.string(),
  instanceUuid: z.string(),
  migrationType: z.string(),
  status: z.string(),
  sourceHost: z.string(),
  sourceNode: z.string(),
  destHost: z.string().nullable(),
  destNode: z.string().nullable(),
  oldFlavorId: z.string(),
  newFlavorId: z.string(),
  projectId: z.string(),
  userId: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
})
type Migration = z.infer<typeof migrationSchema> & { readonly cellPath: string }

/** Statuses of a live migration under way (Nova: queued, preparing, running). */
const LIVE_IN_PROGRESS = ['queued', 'preparing', 'running']

/** How long a listing waits for a cell before going on without it. */
const LIST_DEADLINE_MS = 10_000

const novaTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '000').slice(0, 26)

/**
 * Every migration of the cells in scope (the request's region, or the whole federation), asked of
 * every cell that is up, in parallel; a cell that fails or misses the deadline is left out.
 */
async function gather(d: ComputeDeps, ctx: RequestContext, region: string | null): Promise<Migration[]> {
  let q = d.db.selectFrom('cells').select('path').where('path', 'like', `${API_PATH}!%`)
  if (region !== null) q = q.where('region', '=', region)
  const paths = (await q.execute()).map((r) => r.path).filter((p) => !d.tree.isDown(p))
  const deadline = Math.min(ctx.deadline ?? Infinity, Date.now() + LIST_DEADLINE_MS)
  const per = await Promise.all(
    paths.map(async (cellPath) => {
      try {
        const raw = await d.tree.clientFor(cellPath).cellAdmin({ ...ctx, deadline }, { cellPath, op: 'list_migrations', args: {} })
        return (Array.isArray(raw) ? raw : []).flatMap((m) => {
          const parsed = migrationSchema.safeParse(m)
          return parsed.success ? [{ ...parsed.data, cellPath }] : []
        })
      } catch (err) {
        d.log.warn({ requestId: ctx.requestId, cell: cellPath, err: String(err) }, 'cell did not list its migrations; left out')
        return []
      }
    }),
  )
  return [...per.flat(), ...(await crossCellMigrations(d, region))]
}

/**
 * Cross-cell moves, from the API cell's saga rows (their cells hold none): in scope when their
 * source or target is in the region. Numbered in the API DB (`legacy_ids`, kind `migration`).
 */
async function crossCellMigrations(d: ComputeDeps, region: string | null): Promise<Migration[]> {
  const rows = await d.db.selectFrom('cross_cell_migrations').selectAll().execute()
  const inScope = rows.filter((r) => region === null || sagaRegion(r.source_cell) === region || (r.target_cell !== null && sagaRegion(r.target_cell) === region))
  if (inScope.length === 0) return []
  const ids = await new LegacyIds(d.db).assign('migration', inScope.map((r) => ({ ref: r.uuid, cellPath: null })))
  return inScope.map((r) => {
    const v = migrationView(r)
    return {
      id: ids.get(r.uuid)?.id ?? 0,
      uuid: v.uuid,
      instanceUuid: v.instanceUuid,
      migrationType: v.migrationType,
      status: v.status,
      sourceHost: v.sourceCompute,
      sourceNode: v.sourceNode,
      destHost: v.destCompute,
      destNode: v.destNode,
      oldFlavorId: v.oldFlavorId,
      newFlavorId: v.newFlavorId,
      projectId: v.projectId,
      userId: v.userId,
      createdAt: v.createdAt,
      updatedAt: v.updatedAt,
      cellPath: r.target_cell ?? r.source_cell,
    }
  })
}

/**
 * Nova's view of one migration for microversion `mv` (nova/api/openstack/compute/migrations.py):
 * exactly Nova's keys, since Tempest's schemas forbid any other (a migration's region is the cell's).
 */
function view(m: Migration, mv: Microversion, flavorIds: ReadonlyMap<string, number>): Record<string, unknown> {
  return {
    id: m.id,
    status: m.status,
    instance_uuid: m.instanceUuid,
    source_node: m.sourceNode,
    dest_node: m.destNode ?? '',
    source_compute: m.sourceHost,
    dest_compute: m.destHost ?? '',
    dest_host: '',
    old_instance_type_id: flavorIds.get(m.oldFlavorId) ?? null,
    new_instance_type_id: flavorIds.get(m.newFlavorId) ?? null,
    created_at: novaTime(m.createdAt),
    updated_at: novaTime(m.updatedAt),
    ...(atLeast(mv, '2.23') ? { migration_type: m.migrationType } : {}),
    ...(atLeast(mv, '2.59') ? { uuid: m.uuid } : {}),
    ...(atLeast(mv, '2.80') ? { user_id: m.userId, project_id: m.projectId } : {}),
  }
}

const timeParam = (name: string, v: unknown): number | undefined => {
  if (v === undefined) return undefined
  const t = typeof v === 'string' ? Date.parse(v) : NaN
  if (Number.isNaN(t)) throw new InvalidError(`Invalid input for query parameters ${name}. Value: ${String(v).slice(0, 64)}. is not a 'date-time'`)
  return t
}

/**
 * `GET /os-migrations` (admin), and the live migrations under way of one server (admin, 2.23):
 * `GET /servers/{id}/migrations[/{id}]`, `force_complete` (2.22) and abort (`DELETE`, 2.24).
 */
export function migrationsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  r.get(
    '/os-migrations',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-migrations:index')
      const mv = microversionOf(res)
      const q = req.query
      const str = (k: string): string | undefined => (typeof q[k] === 'string' ? q[k] : undefined)
      const since = atLeast(mv, '2.59') ? timeParam('changes-since', q['changes-since']) : undefined
      const before = atLeast(mv, '2.66') ? timeParam('changes-before', q['changes-before']) : undefined
      let list = await gather(d, contextOf(res), regionOf(res))
      const host = str('host')
      const filters: [string | undefined, (m: Migration) => string | null][] = [
        [str('status'), (m) => m.status],
        [str('instance_uuid'), (m) => m.instanceUuid],
        [str('source_compute'), (m) => m.sourceHost],
        [str('migration_type'), (m) => m.migrationType],
        [atLeast(mv, '2.80') ? str('user_id') : undefined, (m) => m.userId],
        [atLeast(mv, '2.80') ? str('project_id') : undefined, (m) => m.projectId],
      ]
      for (const [want, of] of filters) if (want !== undefined) list = list.filter((m) => of(m) === want)
      if (host !== undefined) list = list.filter((m) => m.sourceHost === host || m.destHost === host)
      if (since !== undefined) list = list.filter((m) => m.updatedAt >= since)
      if (before !== undefined) list = list.filter((m) => m.updatedAt <= before)
      // Newest first (Nova sorts by created_at, then id, descending).
      list.sort((a, b) => b.createdAt - a.createdAt || b.id - a.id || b.uuid.localeCompare(a.uuid))
      let links: Record<string, unknown>[] | undefined
      if (atLeast(mv, '2.59')) {
        const marker = str('marker')
        if (marker !== undefined) {
          const at = list.findIndex((m) => m.uuid === marker)
          if (at < 0) throw new InvalidError(`Marker ${marker} could not be found.`)
          list = list.slice(at + 1)
        }
        const rawLimit = str('limit')
        if (rawLimit !== undefined) {
          const limit = Number(rawLimit)
          if (!/^\d+$/.test(rawLimit) || limit < 0) throw new InvalidError('limit must be a non-negative integer')
          if (list.length > limit) {
            const last = list[limit - 1]
            list = list.slice(0, limit)
            if (last !== undefined) links = [{ rel: 'next', href: `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}/os-migrations?limit=${limit}&marker=${last.uuid}` }]
          }
        }
      }
      const flavorIds = await flavorDbIds(d, list)
      res.json({ migrations: list.map((m) => view(m, mv, flavorIds)), ...(links === undefined ? {} : { migrations_links: links }) })
    }),
  )
  /** The migrations of one server, from its cell (none for a build without a cell, or in cell0). */
  const serverMigrations = async (res: Response, uuid: string): Promise<Migration[]> => {
    const a = authOf(res)
    const mapping = await d.locator.mapping({ projectId: a.projectId, isAdmin: a.isAdmin }, uuid)
    const cellPath = mapping.cell_path
    if (cellPath === null || cellPath === CELL0_PATH) return []
    if (d.tree.isDown(cellPath)) throw new ConflictError(`Cannot list the migrations of instance ${uuid}: its cell ${cellPath} is down (status UNKNOWN)`)
    const raw = await d.tree.clientFor(cellPath).instanceAction(contextOf(res), { cellPath, instanceUuid: uuid, action: 'list_migrations', args: {} })
    return (Array.isArray(raw) ? raw : []).flatMap((m) => {
      const parsed = migrationSchema.safeParse(m)
      return parsed.success ? [{ ...parsed.data, cellPath }] : []
    })
  }
  /** Nova lists only live migrations under way here; anything else is a 404 by id. */
  const inProgress = (m: Migration): boolean => m.migrationType === 'live-migration' && LIVE_IN_PROGRESS.includes(m.status)
  const serverView = (m: Migration, mv: Microversion): Record<string, unknown> => ({
    id: m.id,
    server_uuid: m.instanceUuid,
    status: m.status,
    source_compute: m.sourceHost,
    source_node: m.sourceNode,
    dest_compute: m.destHost ?? '',
    dest_node: m.destNode ?? '',
    dest_host: '',
    memory_total_bytes: 0,
    memory_processed_bytes: 0,
    memory_remaining_bytes: 0,
    disk_total_bytes: 0,
    disk_processed_bytes: 0,
    disk_remaining_bytes: 0,
    created_at: novaTime(m.createdAt),
    updated_at: novaTime(m.updatedAt),
    ...(atLeast(mv, '2.59') ? { uuid: m.uuid } : {}),
    ...(atLeast(mv, '2.80') ? { user_id: m.userId, project_id: m.projectId } : {}),
  })
  const oneMigration = async (req: Request, res: Response): Promise<{ uuid: string; m: Migration | undefined; id: string }> => {
    const uuid = String(req.params['id'])
    const id = String(req.params['migrationId'])
    const list = await serverMigrations(res, uuid)
    return { uuid, id, m: list.find((x) => String(x.id) === id) }
  }
  r.get(
    '/servers/:id/migrations',
    wrap(async (req, res) => {
      if (!atLeast(microversionOf(res), '2.23')) throw new NotFoundError('The resource could not be found.')
      requireAdmin(res, 'os_compute_api:servers:migrations:index')
      const mv = microversionOf(res)
      const list = (await serverMigrations(res, String(req.params['id']))).filter(inProgress)
      res.json({ migrations: list.map((m) => serverView(m, mv)) })
    }),
  )
  r.get(
    '/servers/:id/migrations/:migrationId',
    wrap(async (req, res) => {
      if (!atLeast(microversionOf(res), '2.23')) throw new NotFoundError('The resource could not be found.')
      requireAdmin(res, 'os_compute_api:servers:migrations:show')
      const { uuid, id, m } = await oneMigration(req, res)
      if (m === undefined || !inProgress(m)) throw new NotFoundError(`In-progress live migration ${id} is not found for server ${uuid}.`)
      res.json({ migration: serverView(m, microversionOf(res)) })
    }),
  )
  r.post(
    '/servers/:id/migrations/:migrationId/action',
    wrap(async (req, res) => {
      if (!atLeast(microversionOf(res), '2.22')) throw new NotFoundError('The resource could not be found.')
      requireAdmin(res, 'os_compute_api:servers:migrations:force_complete')
      const body: unknown = req.body
      if (body === null || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).join() !== 'force_complete' || (body as { force_complete: unknown }).force_complete !== null) {
        throw new InvalidError('Invalid input: the body must be {"force_complete": null}')
      }
      const { uuid, id, m } = await oneMigration(req, res)
      if (m === undefined) throw new NotFoundError(`Instance ${uuid} does not have migration ${id}.`)
      // A live migration here is one define-and-start on the target: nothing can make it converge sooner.
      if (!inProgress(m)) throw new InvalidError(`Migration ${id} state of instance ${uuid} is ${m.status}. Cannot force_complete while the migration is in this state.`)
      res.status(202).end()
    }),
  )
  r.delete(
    '/servers/:id/migrations/:migrationId',
    wrap(async (req, res) => {
      if (!atLeast(microversionOf(res), '2.24')) throw new NotFoundError('The resource could not be found.')
      requireAdmin(res, 'os_compute_api:servers:migrations:delete')
      const { uuid, id, m } = await oneMigration(req, res)
      if (m === undefined) throw new NotFoundError(`Instance ${uuid} does not have migration ${id}.`)
      if (!inProgress(m)) throw new InvalidError(`Migration ${id} state of instance ${uuid} is ${m.status}. Cannot abort while the migration is in this state.`)
      throw new ConflictError(`Migration ${id} of instance ${uuid} cannot be aborted: it is a single define-and-start step here.`)
    }),
  )
  return r
}

/** The flavors' database ids (Nova's `old_instance_type_id`), by flavorid. */
async function flavorDbIds(d: ComputeDeps, list: readonly Migration[]): Promise<Map<string, number>> {
  const ids = [...new Set(list.flatMap((m) => [m.oldFlavorId, m.newFlavorId]))]
  if (ids.length === 0) return new Map()
  const rows = await d.db.selectFrom('flavors').select(['id', 'flavorid']).where('flavorid', 'in', ids).execute()
  return new Map(rows.map((f) => [f.flavorid, f.id]))
}
