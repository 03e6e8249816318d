import type { Kysely } from 'kysely'
import { NotFoundError } from '../../shared/errors.js'
import type { CellTree } from '../cells/cell-tree.js'
import type { ComputeTables } from '../db/compute-schema.js'
import { stateOf } from './cell-views.js'
import type { CellState } from './cell-views.js'

/** Per cell, how many of each flavor fit (host by host: RAM, vCPU and disk together). */
export interface CapacityView {
  readonly flavors: ReadonlyArray<{ readonly id: string; readonly name: string }>
  readonly cells: ReadonlyArray<{
    readonly path: string
    readonly state: CellState
    /** Flavor name -> how many fit in the cell's subtree. */
    readonly fits: Readonly<Record<string, number>>
    /** Flavor name -> the most that fit on its best single host. */
    readonly max_per_host: Readonly<Record<string, number>>
  }>
}

/**
 * How many of a flavor (by name or id; every enabled flavor when omitted) fit in each cell, from
 * the cells' latest capacity reports. A down cell is listed with its last figures and state `down`.
 */
export async function capacityView(db: Kysely<ComputeTables>, tree: CellTree, flavor: string | null): Promise<CapacityView> {
  let q = db.selectFrom('flavors').select(['flavorid', 'name']).where('disabled', '=', 0)
  if (flavor !== null) q = q.where((eb) => eb.or([eb('name', '=', flavor), eb('flavorid', '=', flavor)]))
  const flavors = await q.orderBy('memory_mb').orderBy('name').execute()
  if (flavor !== null && flavors.length === 0) throw new NotFoundError(`Flavor ${flavor} could not be found.`, { flavor })
  const rows = await db.selectFrom('cells').select(['path', 'disabled']).execute()
  const settings = new Map(rows.map((r) => [r.path, r]))
  const cells = tree
    .reports()
    .map((c) => {
      const fits: Record<string, number> = {}
      const maxPerHost: Record<string, number> = {}
      for (const f of flavors) {
        fits[f.name] = c.flavorFits[f.flavorid]?.count ?? 0
        maxPerHost[f.name] = c.flavorFits[f.flavorid]?.maxPerHost ?? 0
      }
      const row = settings.get(c.path) ?? { path: c.path, disabled: c.disabled ? 1 : 0 }
      return { path: c.path, state: stateOf(row, c), fits, max_per_host: maxPerHost }
    })
    .sort((a, b) => a.path.localeCompare(b.path))
  return { flavors: flavors.map((f) => ({ id: f.flavorid, name: f.name })), cells }
}
