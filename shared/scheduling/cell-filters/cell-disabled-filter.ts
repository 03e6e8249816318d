import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import type { Filter, Verdict } from '../plugin.js'
import { PASS, reject } from '../plugin.js'
import { readOptions } from '../registry.js'

const DISABLED = reject('Cell is disabled')
const DOWN = reject('Cell has not reported in time (down)')

/**
 * Keeps the cells that take builds: enabled by the operator and up (reported within the configured
 * down interval; the caller computes `up`). A down child is also left out of aggregation; this
 * filter makes sure it is never chosen from a stale report.
 *
 * Options: none.
 */
export class CellDisabledFilter implements Filter<CellCandidate, CellRequest> {
  readonly name = 'CellDisabledFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): CellDisabledFilter {
    readOptions({ pluginName: 'CellDisabledFilter', options, defaults: {} })
    return new CellDisabledFilter()
  }

  passes(cell: Readonly<CellCandidate>, _request: Readonly<CellRequest>): Verdict {
    if (cell.disabled) return DISABLED
    if (!cell.up) return DOWN
    return PASS
  }
}
