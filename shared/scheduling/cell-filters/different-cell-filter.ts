import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import { isSameOrBelow } from '../cell-candidate.js'
import type { Filter, Verdict } from '../plugin.js'
import { PASS, reject } from '../plugin.js'
import { readOptions } from '../registry.js'

/**
 * Nova cells v1's DifferentCellFilter: the scheduler hint `different_cell` (one or more full cell
 * paths) keeps the build out of those cells and everything below them. A child that merely contains
 * an excluded cell still passes: the hint travels down and the next level excludes it.
 *
 * Admin only, as in cells v1: for anyone else the hint is ignored.
 *
 * Options: none.
 */
export class DifferentCellFilter implements Filter<CellCandidate, CellRequest> {
  readonly name = 'DifferentCellFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): DifferentCellFilter {
    readOptions({ pluginName: 'DifferentCellFilter', options, defaults: {} })
    return new DifferentCellFilter()
  }

  appliesTo(request: Readonly<CellRequest>): boolean {
    return request.isAdmin && (request.hints.differentCell?.length ?? 0) > 0
  }

  passes(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): Verdict {
    if (!request.isAdmin) return PASS
    for (const avoid of request.hints.differentCell ?? []) {
      if (isSameOrBelow(cell.path, avoid)) return reject(`Scheduler hint different_cell=${avoid} excludes this cell`)
    }
    return PASS
  }
}
