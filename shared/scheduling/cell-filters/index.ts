/**
 * The cell filters a parent (the API cell's global scheduler, or an intermediate cell) can enable by
 * name. An unknown name is a start-up error (see `buildFilters`).
 */
import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import type { Filter } from '../plugin.js'
import { createRegistry } from '../registry.js'
import { CellAvailabilityZoneFilter } from './cell-availability-zone-filter.js'
import { CellCapacityFilter } from './cell-capacity-filter.js'
import { CellDisabledFilter } from './cell-disabled-filter.js'
import { CellImagePropertiesFilter } from './cell-image-properties-filter.js'
import { CellRetryFilter } from './cell-retry-filter.js'
import { CellServerGroupFilter } from './cell-server-group-filter.js'
import { DifferentCellFilter } from './different-cell-filter.js'
import { TargetCellFilter } from './target-cell-filter.js'

/** A filter over child cells. */
export type CellFilter = Filter<CellCandidate, CellRequest>

/** Every built-in cell filter, by name. */
export const cellFilterRegistry = createRegistry<CellFilter>({
  kind: 'filter',
  entries: {
    CellRetryFilter: (o) => CellRetryFilter.fromOptions(o),
    CellDisabledFilter: (o) => CellDisabledFilter.fromOptions(o),
    TargetCellFilter: (o) => TargetCellFilter.fromOptions(o),
    DifferentCellFilter: (o) => DifferentCellFilter.fromOptions(o),
    CellAvailabilityZoneFilter: (o) => CellAvailabilityZoneFilter.fromOptions(o),
    CellCapacityFilter: (o) => CellCapacityFilter.fromOptions(o),
    CellImagePropertiesFilter: (o) => CellImagePropertiesFilter.fromOptions(o),
    CellServerGroupFilter: (o) => CellServerGroupFilter.fromOptions(o),
  },
})

/** A sensible default: every built-in cell filter, in this order. */
export const DEFAULT_CELL_FILTERS = [
  'CellRetryFilter',
  'CellDisabledFilter',
  'TargetCellFilter',
  'DifferentCellFilter',
  'CellAvailabilityZoneFilter',
  'CellCapacityFilter',
  'CellImagePropertiesFilter',
  'CellServerGroupFilter',
] as const

export {
  CellAvailabilityZoneFilter,
  CellCapacityFilter,
  CellDisabledFilter,
  CellImagePropertiesFilter,
  CellRetryFilter,
  CellServerGroupFilter,
  DifferentCellFilter,
  TargetCellFilter,
}
