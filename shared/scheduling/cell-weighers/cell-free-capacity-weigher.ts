import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import { estimatedFit, reportedFit } from '../cell-candidate.js'
import type { Weigher } from '../plugin.js'
import { readOptions } from '../registry.js'

/**
 * Cells v1's RamByInstanceTypeWeigher, widened to RAM, vCPU and disk: prefers the cells where more
 * instances of the requested flavor fit (the raw weight is that count, per zone when the request
 * names one), which spreads builds across the tree. A flavor the report does not know is estimated
 * from the free totals. A negative multiplier fills the fullest cells first.
 *
 * Options: `capacity_weight_multiplier` (default 10.0, like cells v1's `ram_weight_multiplier`).
 */
export class CellFreeCapacityWeigher implements Weigher<CellCandidate, CellRequest> {
  readonly name = 'CellFreeCapacityWeigher'
  readonly multiplier: number

  constructor(args: { readonly multiplier: number }) {
    this.multiplier = args.multiplier
  }

  /** Builds the weigher from its options. */
  static fromOptions(options: Readonly<Record<string, unknown>>): CellFreeCapacityWeigher {
    const o = readOptions({ pluginName: 'CellFreeCapacityWeigher', options, defaults: { capacity_weight_multiplier: 10.0 } })
    return new CellFreeCapacityWeigher({ multiplier: o.capacity_weight_multiplier })
  }

  weigh(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): number {
    return (reportedFit(cell, request) ?? estimatedFit(cell, request)).count
  }
}
