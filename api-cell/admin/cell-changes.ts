import type { Selectable } from 'kysely'
import { PATH_SEPARATOR } from '../../shared/cell-link/types.js'
import type { RequestContext } from '../../shared/context.js'
import { isDuplicateKey } from '../../shared/db/database.js'
import { ConflictError, InvalidError } from '../../shared/errors.js'
import { CELL0_PATH } from '../cells/cell0.js'
import { API_PATH } from '../cells/cell-tree.js'
import type { CellsTable } from '../db/compute-schema.js'
import { askCell, messageOf } from './cell-admin-call.js'
import { cellRow, showCellView } from './cell-reads.js'
import type { CellView } from './cell-views.js'
import type { AdminDeps } from './deps.js'

/** A change that took effect at the API, with what could not be passed on to the cells. */
export interface CellChange {
  readonly cell: CellView
  /** Cells that could not be told (unreachable): the API's records changed anyway. */
  readonly warnings: readonly string[]
}

/** What `cell create` takes. */
export interface CreateCellInput {
  readonly parent: string
  readonly name: string
  readonly grpcAddress: string
  readonly databaseUrl?: string | undefined
  readonly transportUrl?: string | undefined
  readonly weightOffset?: number | undefined
}

/** What `cell update` changes. */
export interface UpdateCellInput {
  readonly name?: string | undefined
  readonly weightOffset?: number | undefined
  readonly grpcAddress?: string | undefined
}

const parentOf = (path: string): string => path.slice(0, path.lastIndexOf(PATH_SEPARATOR))

/**
 * Tells the parent of `row` about the child's address (or that it is gone). A region's parent is
 * the API cell itself: the tree re-reads its direct children from the cells table.
 */
async function informParent(d: AdminDeps, ctx: RequestContext, row: Pick<Selectable<CellsTable>, 'path' | 'parent_path'>, address: string | null): Promise<void> {
  const parent = row.parent_path ?? parentOf(row.path)
  if (parent === API_PATH) {
    await d.tree.refreshChildren()
    return
  }
  if (address === null) await askCell(d.tree, ctx, parent, 'remove_child', { path: row.path })
  else await askCell(d.tree, ctx, parent, 'add_child', { path: row.path, address })
}

/**
 * Registers a new cell under `parent` (the API cell or a registered cell) and makes its parent
 * watch it at once: the API for a region, else the parent cell's agent (CellAdmin `add_child`).
 * When the parent cannot be told, nothing stays registered.
 */
export async function createCell(d: AdminDeps, ctx: RequestContext, input: CreateCellInput): Promise<CellView> {
  if (input.parent === CELL0_PATH) throw new InvalidError('cell0 cannot have child cells.')
  const parentRow = input.parent === API_PATH ? undefined : await cellRow(d.db, input.parent).catch(() => undefined)
  if (input.parent !== API_PATH && parentRow === undefined) throw new InvalidError(`Parent cell ${input.parent} is not registered.`)
  const path = `${input.parent}${PATH_SEPARATOR}${input.name}`
  const now = Date.now()
  try {
    await d.db
      .insertInto('cells')
      .values({
        uuid: crypto.randomUUID(),
        name: input.name,
        path,
        parent_path: input.parent,
        region: parentRow === undefined ? input.name : parentRow.region,
        grpc_address: input.grpcAddress,
        database_url: input.databaseUrl ?? null,
        transport_url: input.transportUrl ?? null,
        disabled: 0,
        disabled_reason: null,
        weight_offset: input.weightOffset ?? 0,
        event_cursor: 0,
        created_at: now,
        updated_at: now,
      })
      .execute()
  } catch (err) {
    if (isDuplicateKey(err)) throw new ConflictError(`Cell ${path} already exists.`, { path })
    throw err
  }
  try {
    await informParent(d, ctx, { path, parent_path: input.parent }, input.grpcAddress)
    if (input.weightOffset !== undefined && input.parent !== API_PATH) {
      await askCell(d.tree, ctx, input.parent, 'set_child_weight_offset', { path, weightOffset: input.weightOffset })
    }
  } catch (err) {
    await d.db.deleteFrom('cells').where('path', '=', path).execute()
    throw err
  }
  await d.refreshSettings()
  d.log.info({ requestId: ctx.requestId, cell: path, grpcAddress: input.grpcAddress }, 'cell created')
  return showCellView(d.db, d.tree, path)
}

/** Renames (display name only: the path stays), re-weighs or re-addresses a cell. */
export async function updateCell(d: AdminDeps, ctx: RequestContext, path: string, input: UpdateCellInput): Promise<CellChange> {
  const row = await cellRow(d.db, path)
  if (input.grpcAddress !== undefined && path === CELL0_PATH) throw new InvalidError('cell0 has no gRPC address.')
  await d.db
    .updateTable('cells')
    .set({
      ...(input.name === undefined ? {} : { name: input.name }),
      ...(input.weightOffset === undefined ? {} : { weight_offset: input.weightOffset }),
      ...(input.grpcAddress === undefined ? {} : { grpc_address: input.grpcAddress }),
      updated_at: Date.now(),
    })
    .where('path', '=', path)
    .execute()
  await d.refreshSettings()
  const warnings: string[] = []
  const parent = row.parent_path ?? parentOf(path)
  if (input.grpcAddress !== undefined && input.grpcAddress !== row.grpc_address) {
    await informParent(d, ctx, row, input.grpcAddress).catch((err: unknown) => warnings.push(`${parent} was not told the new address: ${messageOf(err)}`))
  }
  if (input.weightOffset !== undefined && parent !== API_PATH && path !== CELL0_PATH) {
    await askCell(d.tree, ctx, parent, 'set_child_weight_offset', { path, weightOffset: input.weightOffset }).catch((err: unknown) =>
      warnings.push(`${parent} was not told the weight offset: ${messageOf(err)}`),
    )
  }
  d.log.info({ requestId: ctx.requestId, cell: path, ...input }, 'cell updated')
  return { cell: await showCellView(d.db, d.tree, path), warnings }
}

/**
 * Disables (or enables) a cell for new builds, at once: the API's settings are re-read for the next
 * build, and the cell itself is told (CellAdmin `set_disabled`) so that it declines builds and
 * reports itself disabled, which makes intermediate parents skip it too.
 */
export async function setCellDisabled(d: AdminDeps, ctx: RequestContext, path: string, disabled: boolean, reason: string | null): Promise<CellChange> {
  if (path === CELL0_PATH) throw new InvalidError('cell0 takes no builds: it cannot be disabled or enabled.')
  await cellRow(d.db, path)
  await d.db
    .updateTable('cells')
    .set({ disabled: disabled ? 1 : 0, disabled_reason: disabled ? reason : null, updated_at: Date.now() })
    .where('path', '=', path)
    .execute()
  await d.refreshSettings()
  const warnings: string[] = []
  await askCell(d.tree, ctx, path, 'set_disabled', { disabled }).catch((err: unknown) =>
    warnings.push(`${path} was not told (it will be when it reports again): ${messageOf(err)}`),
  )
  d.log.info({ requestId: ctx.requestId, cell: path, disabled, reason }, disabled ? 'cell disabled' : 'cell enabled')
  return { cell: await showCellView(d.db, d.tree, path), warnings }
}
