import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import { isSameOrBelow } from '../cell-candidate.js'
import type { Filter, Verdict } from '../plugin.js'
import { PASS, reject } from '../plugin.js'
import { readOptions } from '../registry.js'

/**
 * Nova cells v1's TargetCellFilter: the scheduler hint `target_cell` (a full cell path such as
 * `api!region-one!dc1`) sends the build into that cell's subtree. At each level it keeps the child
 * on the way to the target (or below it, once the target is reached).
 *
 * Admin only, with cells v1's behaviour for everyone else: the hint is **ignored**, not refused (v1
 * checked the `cells_scheduler_filter:TargetCellFilter` policy and, failing it, did no filtering), so
 * a non-admin build is scheduled as if the hint were absent. A target that names no cell in the
 * tree leaves no candidate.
 *
 * Options: none.
 */
export class TargetCellFilter implements Filter<CellCandidate, CellRequest> {
  readonly name = 'TargetCellFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): TargetCellFilter {
    readOptions({ pluginName: 'TargetCellFilter', options, defaults: {} })
    return new TargetCellFilter()
  }

  appliesTo(request: Readonly<CellRequest>): boolean {
    return request.isAdmin && request.hints.targetCell !== undefined && request.hints.targetCell !== ''
  }

  passes(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): Verdict {
    const target = request.hints.targetCell
    if (!request.isAdmin || target === undefined || target === '') return PASS
    // The child is on the way to the target, or the target is an ancestor and the child lies in it.
    if (isSameOrBelow(target, cell.path) || isSameOrBelow(cell.path, target)) return PASS
    return reject(`Scheduler hint target_cell=${target} excludes this cell`)
  }
}
