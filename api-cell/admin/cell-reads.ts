import type { Kysely, Selectable } from 'kysely'
import type { CellCapacity } from '../../shared/cell-link/types.js'
import { NotFoundError } from '../../shared/errors.js'
import { CELL0_PATH } from '../cells/cell0.js'
import type { CellTree } from '../cells/cell-tree.js'
import type { CellsTable, ComputeTables } from '../db/compute-schema.js'
import type { CellView, ViewInputs } from './cell-views.js'
import { cellView } from './cell-views.js'

/** The latest report of every cell the API hears about, by path. */
export function reportsByPath(tree: CellTree): Map<string, CellCapacity> {
  return new Map(tree.reports().map((c) => [c.path, c]))
}

/** A registered cell's row, or 404. */
export async function cellRow(db: Kysely<ComputeTables>, path: string): Promise<Selectable<CellsTable>> {
  const row = await db.selectFrom('cells').selectAll().where('path', '=', path).executeTakeFirst()
  if (row === undefined) throw new NotFoundError(`Cell ${path} is not registered.`, { path })
  return row
}

async function viewInputs(db: Kysely<ComputeTables>, tree: CellTree): Promise<ViewInputs> {
  const mapped = await db
    .selectFrom('host_mappings')
    .select(['cell_path', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('cell_path')
    .execute()
  const cell0 = await db
    .selectFrom('instance_index')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('cell_path', '=', CELL0_PATH)
    .where('vm_state', '!=', 'deleted')
    .executeTakeFirst()
  return {
    reports: reportsByPath(tree),
    mappedHosts: new Map(mapped.map((m) => [m.cell_path, Number(m.n)])),
    indexedInstances: new Map([[CELL0_PATH, Number(cell0?.n ?? 0)]]),
    now: Date.now(),
  }
}

/** Every registered cell, sorted by path, with its latest capacity report. */
export async function listCellViews(db: Kysely<ComputeTables>, tree: CellTree): Promise<CellView[]> {
  const rows = await db.selectFrom('cells').selectAll().orderBy('path').execute()
  const inputs = await viewInputs(db, tree)
  return rows.map((r) => cellView(r, inputs))
}

/** One registered cell, or 404. */
export async function showCellView(db: Kysely<ComputeTables>, tree: CellTree, path: string): Promise<CellView> {
  const row = await cellRow(db, path)
  return cellView(row, await viewInputs(db, tree))
}
