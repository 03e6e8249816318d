import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import type { Filter, Verdict } from '../plugin.js'
import { PASS, reject } from '../plugin.js'
import { readOptions } from '../registry.js'

const REJECTION = reject('Cell already answered NACK for this build')

/**
 * The cell-level RetryFilter: skips the children that already refused this build (NACK). Cells v1
 * could not retry at all; here a parent re-ranks its children with the refusers in
 * `request.triedCells` and tries the next best.
 *
 * Options: none.
 */
export class CellRetryFilter implements Filter<CellCandidate, CellRequest> {
  readonly name = 'CellRetryFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): CellRetryFilter {
    readOptions({ pluginName: 'CellRetryFilter', options, defaults: {} })
    return new CellRetryFilter()
  }

  appliesTo(request: Readonly<CellRequest>): boolean {
    return request.triedCells.length > 0
  }

  passes(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): Verdict {
    return request.triedCells.includes(cell.path) ? REJECTION : PASS
  }
}
