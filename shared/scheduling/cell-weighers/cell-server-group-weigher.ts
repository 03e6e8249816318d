import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import { membersWithin } from '../cell-candidate.js'
import type { Weigher } from '../plugin.js'
import { InvalidPluginOptionError, readOptions } from '../registry.js'

/**
 * Server groups at a parent: where the group's other members run weighs in.
 * - `soft-affinity`: the raw weight is the number of members in the child's subtree (keep the
 *   group together when possible);
 * - `anti-affinity` and `soft-anti-affinity`: minus the members per up host in the subtree (spread
 *   the group, so that fewer builds meet a leaf whose free hosts all run a member already).
 * Other requests weigh 0.
 *
 * Options: `server_group_weight_multiplier` (default 20.0, twice CellFreeCapacityWeigher's
 * default, so that a soft policy wins over free capacity; must be >= 0).
 */
export class CellServerGroupWeigher implements Weigher<CellCandidate, CellRequest> {
  readonly name = 'CellServerGroupWeigher'
  readonly multiplier: number

  constructor(args: { readonly multiplier: number }) {
    this.multiplier = args.multiplier
  }

  /** Builds the weigher from its options. */
  static fromOptions(options: Readonly<Record<string, unknown>>): CellServerGroupWeigher {
    const pluginName = 'CellServerGroupWeigher'
    const o = readOptions({ pluginName, options, defaults: { server_group_weight_multiplier: 20.0 } })
    if (o.server_group_weight_multiplier < 0) {
      throw new InvalidPluginOptionError({ pluginName, option: 'server_group_weight_multiplier', problem: 'must be >= 0' })
    }
    return new CellServerGroupWeigher({ multiplier: o.server_group_weight_multiplier })
  }

  appliesTo(request: Readonly<CellRequest>): boolean {
    const g = request.group
    return g !== undefined && g.memberCells.length > 0 && g.policy !== 'affinity'
  }

  weigh(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): number {
    const g = request.group
    if (g === undefined || g.memberCells.length === 0) return 0
    const members = membersWithin(g, cell.path)
    if (g.policy === 'soft-affinity') return members
    if (g.policy === 'affinity') return 0
    return members === 0 ? 0 : -members / Math.max(1, cell.hostsUp)
  }
}
