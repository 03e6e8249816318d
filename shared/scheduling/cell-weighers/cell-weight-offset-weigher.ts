import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import type { Weigher } from '../plugin.js'
import { readOptions } from '../registry.js'

/**
 * Cells v1's WeightOffsetWeigher: the operator's per-cell `weightOffset` (higher is preferred), for
 * draining a cell gently (a low offset) or favouring a new one. Like every weight it is normalised
 * over the candidates, so the multiplier, not the offset's size, sets how much it counts.
 *
 * Options: `offset_weight_multiplier` (default 1.0, as in cells v1).
 */
export class CellWeightOffsetWeigher implements Weigher<CellCandidate, CellRequest> {
  readonly name = 'CellWeightOffsetWeigher'
  readonly multiplier: number

  constructor(args: { readonly multiplier: number }) {
    this.multiplier = args.multiplier
  }

  /** Builds the weigher from its options. */
  static fromOptions(options: Readonly<Record<string, unknown>>): CellWeightOffsetWeigher {
    const o = readOptions({ pluginName: 'CellWeightOffsetWeigher', options, defaults: { offset_weight_multiplier: 1.0 } })
    return new CellWeightOffsetWeigher({ multiplier: o.offset_weight_multiplier })
  }

  weigh(cell: Readonly<CellCandidate>, _request: Readonly<CellRequest>): number {
    return cell.weightOffset
  }
}
