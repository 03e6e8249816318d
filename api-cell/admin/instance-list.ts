import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import { z } from 'zod'
import { InvalidError } from '../../shared/errors.js'
import { isUuid } from '../../shared/uuid.js'
import type { CellTree } from '../cells/cell-tree.js'
import { CELL0_PATH } from '../cells/cell0.js'
import { filterForStatus, statusOf } from '../compute/servers/status.js'
import type { ComputeTables } from '../db/compute-schema.js'
import { parseInput } from './request-schemas.js'

/** One instance as the federation-wide list shows it: from the API cell's index, with its cell path. */
export interface InstanceListItem {
  readonly uuid: string
  readonly name: string
  /** Nova's status; `UNKNOWN` while its cell is down (the 2.69 semantics). */
  readonly status: string
  readonly project_id: string
  /** Null while the build is looking for a cell. */
  readonly cell_path: string | null
  readonly host: string | null
  readonly flavor_id: string
  readonly created_at: string
  readonly updated_at: string
}

/** A page of instances, newest first; `next_marker` is the uuid to ask the next page after (null: the last page). */
export interface InstancePage {
  readonly instances: readonly InstanceListItem[]
  readonly next_marker: string | null
}

/** Largest page, so that one request stays cheap whatever the size of the federation. */
export const MAX_INSTANCE_PAGE = 1000

const query = z
  .object({
    limit: z.coerce.number().int().min(1).max(MAX_INSTANCE_PAGE).optional(),
    marker: z.string().refine(isUuid, 'must be an instance uuid').optional(),
    name: z.string().max(255).optional(),
    status: z.string().max(32).optional(),
    cell: z.string().min(1).max(255).regex(/^[a-z0-9][a-z0-9-]*(![a-z0-9][a-z0-9-]*)*$/, 'must be a cell path').optional(),
    host: z.string().min(1).max(255).optional(),
  })
  .strict()

/** The query of `GET /instances`, validated (a 400 naming the field otherwise). */
export type InstanceQuery = z.infer<typeof query>

/** Parses the query string of `GET /instances`; empty values count as absent. */
export function parseInstanceQuery(raw: Record<string, unknown>): InstanceQuery {
  const cleaned = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== ''))
  for (const [k, v] of Object.entries(cleaned)) if (typeof v !== 'string') throw new InvalidError(`Invalid query: ${k} must be given once`)
  return parseInput(query, cleaned, 'query')
}

/** `%`, `_` and `!` match themselves in a LIKE pattern escaped with `!` (one escape character that SQLite and MySQL read alike). */
const likeEscape = (s: string): string => s.replace(/[!%_]/g, (c) => `!${c}`)
const like = (column: 'name' | 'cell_path', pattern: string) => sql<boolean>`${sql.ref(column)} like ${pattern} escape '!'`

/**
 * One page of every instance of the federation from the API cell's index (never from the cells, so a
 * page costs one indexed query whatever the number of servers), newest first, with keyset paging
 * after `marker` (Nova's marker semantics: a marker that is not found is a 400). Deleted instances
 * are left out. Filters: `name` (substring), `status` (Nova's), `cell` (its subtree), `host`.
 */
export async function listInstances(db: Kysely<ComputeTables>, tree: Pick<CellTree, 'isDown'>, q: InstanceQuery): Promise<InstancePage> {
  const limit = q.limit ?? 50
  let sel = db
    .selectFrom('instance_index')
    .select(['uuid', 'name', 'vm_state', 'task_state', 'project_id', 'cell_path', 'host', 'flavor_id', 'created_at', 'updated_at'])
    .where('vm_state', '!=', 'deleted')
  if (q.marker !== undefined) {
    const m = await db.selectFrom('instance_index').select(['created_at', 'uuid']).where('uuid', '=', q.marker).executeTakeFirst()
    if (m === undefined) throw new InvalidError(`marker [${q.marker}] not found`)
    sel = sel.where((eb) => eb.or([eb('created_at', '<', m.created_at), eb.and([eb('created_at', '=', m.created_at), eb('uuid', '<', m.uuid)])]))
  }
  if (q.name !== undefined) sel = sel.where(like('name', `%${likeEscape(q.name)}%`))
  if (q.host !== undefined) sel = sel.where('host', '=', q.host)
  if (q.cell !== undefined) {
    const cell = q.cell
    sel = sel.where((eb) => eb.or([eb('cell_path', '=', cell), like('cell_path', `${likeEscape(cell)}!!%`)]))
  }
  if (q.status !== undefined) {
    const f = filterForStatus(q.status)
    if (f === undefined) throw new InvalidError(`Invalid query: status ${q.status} is not a server status`)
    if (f.vmStates.length > 0) sel = sel.where('vm_state', 'in', f.vmStates)
    if (f.taskStates !== undefined) sel = sel.where('task_state', 'in', f.taskStates)
  }
  const rows = await sel.orderBy('created_at', 'desc').orderBy('uuid', 'desc').limit(limit + 1).execute()
  const page = rows.slice(0, limit)
  const now = Date.now()
  const instances = page.map((r) => ({
    uuid: r.uuid,
    name: r.name,
    status: r.cell_path !== null && r.cell_path !== CELL0_PATH && tree.isDown(r.cell_path, now) ? 'UNKNOWN' : statusOf(r.vm_state, r.task_state),
    project_id: r.project_id,
    cell_path: r.cell_path,
    host: r.host,
    flavor_id: r.flavor_id,
    created_at: new Date(Number(r.created_at)).toISOString(),
    updated_at: new Date(Number(r.updated_at)).toISOString(),
  }))
  const last = page[page.length - 1]
  return { instances, next_marker: rows.length > limit && last !== undefined ? last.uuid : null }
}
