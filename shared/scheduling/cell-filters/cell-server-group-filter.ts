import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import { membersWithin } from '../cell-candidate.js'
import type { Filter, Verdict } from '../plugin.js'
import { PASS, reject } from '../plugin.js'
import { readOptions } from '../registry.js'

const NOT_MEMBERS_CELL = reject("The server group's members run in another cell (policy 'affinity')")
const FULL = reject("Every up host of the cell already runs max_server_per_host members of the server group (policy 'anti-affinity')")

/**
 * The hard server-group policies at a parent, so that a build is only sent where its leaf can
 * honour them:
 * - `affinity`: once the group has members, keeps only the children whose subtree holds them (the
 *   members share one host, hence one leaf);
 * - `anti-affinity`: rejects a child whose subtree already runs `max_server_per_host` members on
 *   each of its up hosts (from the members' cells and the reported host count; a child that might
 *   still have a free host passes, and its leaf decides, host by host, atomically).
 * Soft policies never filter (see CellServerGroupWeigher).
 *
 * Options: none.
 */
export class CellServerGroupFilter implements Filter<CellCandidate, CellRequest> {
  readonly name = 'CellServerGroupFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): CellServerGroupFilter {
    readOptions({ pluginName: 'CellServerGroupFilter', options, defaults: {} })
    return new CellServerGroupFilter()
  }

  appliesTo(request: Readonly<CellRequest>): boolean {
    const g = request.group
    return g !== undefined && g.memberCells.length > 0 && (g.policy === 'affinity' || g.policy === 'anti-affinity')
  }

  passes(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): Verdict {
    const g = request.group
    if (g === undefined || g.memberCells.length === 0) return PASS
    if (g.policy === 'affinity') return membersWithin(g, cell.path) > 0 ? PASS : NOT_MEMBERS_CELL
    if (g.policy === 'anti-affinity') {
      return membersWithin(g, cell.path) >= cell.hostsUp * Math.max(1, g.maxServerPerHost) ? FULL : PASS
    }
    return PASS
  }
}
