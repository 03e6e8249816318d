import type { RequestContext } from '../../shared/context.js'
import { AppError, ConflictError } from '../../shared/errors.js'
import { CELL0_PATH } from '../cells/cell0.js'
import { API_PATH } from '../cells/cell-tree.js'
import { askCell, messageOf } from './cell-admin-call.js'
import { cellRow } from './cell-reads.js'
import type { AdminDeps } from './deps.js'

/** What a cell deletion removed. */
export interface CellDeletion {
  readonly deleted: string
  readonly dropped_host_mappings: number
  readonly warnings: readonly string[]
}

/** What the cell itself says it still holds (CellAdmin `usage`). */
interface Usage {
  readonly instances: number
  readonly hosts: number
}

/** Asks the cell for its usage; undefined when it cannot be reached (any transport failure). */
async function usageOf(d: AdminDeps, ctx: RequestContext, path: string): Promise<{ usage?: Usage; failure?: string }> {
  try {
    const u = (await askCell(d.tree, ctx, path, 'usage', {})) as Partial<Usage> | null
    return { usage: { instances: Number(u?.instances ?? 0), hosts: Number(u?.hosts ?? 0) } }
  } catch (err) {
    if (err instanceof AppError && !['cell_unreachable', 'rpc_timeout', 'not_found'].includes(err.code)) throw err
    return { failure: messageOf(err) }
  }
}

/**
 * Deletes a cell's mapping. Refuses (409) while the cell has child cells, live instances (in the
 * API's index or by its own count) or compute hosts, and when it cannot be asked. `force` never
 * deletes anything that holds instances or hosts: it only drops empty mappings, i.e. host mappings
 * of hosts the cell no longer reports, and the mapping of a cell that cannot be reached when the
 * API maps no host and no instance to it.
 */
export async function deleteCell(d: AdminDeps, ctx: RequestContext, path: string, force: boolean): Promise<CellDeletion> {
  const row = await cellRow(d.db, path)
  const children = await d.db.selectFrom('cells').select('path').where('parent_path', '=', path).execute()
  if (children.length > 0) {
    throw new ConflictError(`Cell ${path} has child cells (${children.map((c) => c.path).join(', ')}): delete them first.`, { path })
  }
  const live = await d.db
    .selectFrom('instance_index')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('cell_path', '=', path)
    .where('vm_state', '!=', 'deleted')
    .executeTakeFirst()
  const indexed = Number(live?.n ?? 0)
  if (indexed > 0) throw new ConflictError(`Cell ${path} still has ${indexed} live instance(s); delete or move them first.`, { path, instances: indexed })
  const mapped = (await d.db.selectFrom('host_mappings').select('host').where('cell_path', '=', path).execute()).map((m) => m.host)

  if (path !== CELL0_PATH) {
    const { usage, failure } = await usageOf(d, ctx, path)
    if (usage !== undefined && (usage.hosts > 0 || usage.instances > 0)) {
      throw new ConflictError(`Cell ${path} still has ${usage.hosts} compute host(s) and ${usage.instances} live instance(s): it cannot be deleted.`, {
        path,
        ...usage,
      })
    }
    if (failure !== undefined && !force) {
      throw new ConflictError(`Cannot confirm that cell ${path} is empty (${failure}); --force drops the mapping of an unreachable cell that the API maps nothing to.`, { path })
    }
    if (failure !== undefined && mapped.length > 0) {
      throw new ConflictError(`Cell ${path} cannot be reached and ${mapped.length} host(s) are mapped to it (${mapped.join(', ')}): delete those hosts first.`, { path })
    }
  }
  if (mapped.length > 0 && !force) {
    throw new ConflictError(`${mapped.length} host mapping(s) of hosts the cell no longer reports remain (${mapped.join(', ')}); --force drops them.`, { path })
  }

  await d.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('host_mappings').where('cell_path', '=', path).execute()
    await tx.deleteFrom('cells').where('path', '=', path).execute()
  })
  await d.refreshSettings()
  const warnings: string[] = []
  const parent = row.parent_path
  if (parent === API_PATH) await d.tree.refreshChildren()
  else if (parent !== null && path !== CELL0_PATH) {
    await askCell(d.tree, ctx, parent, 'remove_child', { path }).catch((err: unknown) =>
      warnings.push(`${parent} was not told to stop watching ${path}: ${messageOf(err)}`),
    )
  }
  d.log.info({ requestId: ctx.requestId, cell: path, force, droppedHostMappings: mapped.length }, 'cell deleted')
  return { deleted: path, dropped_host_mappings: mapped.length, warnings }
}
