/**
 * The cell weighers a parent can enable by name. An unknown name is a start-up error (see
 * `buildWeighers`).
 */
import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import type { Weigher } from '../plugin.js'
import { createRegistry } from '../registry.js'
import { CellFreeCapacityWeigher } from './cell-free-capacity-weigher.js'
import { CellServerGroupWeigher } from './cell-server-group-weigher.js'
import { CellStaleReportWeigher } from './cell-stale-report-weigher.js'
import { CellWeightOffsetWeigher } from './cell-weight-offset-weigher.js'

/** A weigher over child cells. */
export type CellWeigher = Weigher<CellCandidate, CellRequest>

/** Every built-in cell weigher, by name. */
export const cellWeigherRegistry = createRegistry<CellWeigher>({
  kind: 'weigher',
  entries: {
    CellFreeCapacityWeigher: (o) => CellFreeCapacityWeigher.fromOptions(o),
    CellWeightOffsetWeigher: (o) => CellWeightOffsetWeigher.fromOptions(o),
    CellStaleReportWeigher: (o) => CellStaleReportWeigher.fromOptions(o),
    CellServerGroupWeigher: (o) => CellServerGroupWeigher.fromOptions(o),
  },
})

/** A sensible default: every built-in cell weigher. */
export const DEFAULT_CELL_WEIGHERS = ['CellFreeCapacityWeigher', 'CellWeightOffsetWeigher', 'CellStaleReportWeigher', 'CellServerGroupWeigher'] as const

export { CellFreeCapacityWeigher, CellServerGroupWeigher, CellStaleReportWeigher, CellWeightOffsetWeigher }
