import type { Kysely } from 'kysely'
import type { Logger } from '../../shared/logging.js'
import type { Cell0Store } from '../cells/cell0.js'
import type { CellTree } from '../cells/cell-tree.js'
import type { ComputeTables } from '../db/compute-schema.js'
import type { CrossCell } from '../compute/deps.js'
import type { BuildLog } from '../scheduler/build-log.js'

/** What the cell administration API works with. */
export interface AdminDeps {
  readonly db: Kysely<ComputeTables>
  readonly tree: CellTree
  readonly cell0: Cell0Store
  /** cell0's database URL, recorded by `cell0 map`. */
  readonly cell0DatabaseUrl: string
  /**
   * Re-reads the cell settings (disabled, weight offset) the global scheduler ranks regions with:
   * called after every change so that it takes effect on the next build.
   */
  readonly refreshSettings: () => Promise<void>
  readonly log: Logger
  /** Cross-cell moves, for `cell drain` (without them a drain is a 501). */
  readonly crossCell?: Pick<CrossCell, 'moves' | 'targets'>
  /** The global scheduler's latest builds (`GET /builds`); absent: that list is empty. */
  readonly builds?: BuildLog
}
