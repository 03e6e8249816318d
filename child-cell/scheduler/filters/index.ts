/**
 * The host filters a leaf cell's scheduler can enable by name (Nova's `available_filters`). The
 * operator's `enabled_filters` list picks from here, in the order the filters run; an unknown name
 * is a start-up error (see `buildFilters`).
 */
import type { Filter } from '../../../shared/scheduling/plugin.js'
import { createRegistry } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { AggregateInstanceExtraSpecsFilter } from './aggregate-instance-extra-specs-filter.js'
import { AggregateMultiTenancyIsolation } from './aggregate-multi-tenancy-isolation.js'
import { AvailabilityZoneFilter } from './availability-zone-filter.js'
import { ComputeCapabilitiesFilter } from './compute-capabilities-filter.js'
import { ComputeFilter } from './compute-filter.js'
import { CoreFilter } from './core-filter.js'
import { DifferentHostFilter } from './different-host-filter.js'
import { DiskFilter } from './disk-filter.js'
import { ImagePropertiesFilter } from './image-properties-filter.js'
import { RamFilter } from './ram-filter.js'
import { RetryFilter } from './retry-filter.js'
import { SameHostFilter } from './same-host-filter.js'
import { ServerGroupAffinityFilter } from './server-group-affinity-filter.js'
import { ServerGroupAntiAffinityFilter } from './server-group-anti-affinity-filter.js'

/** A filter over compute hosts. */
export type HostFilter = Filter<HostState, RequestSpec>

/** Every built-in host filter, by its Nova name. */
export const hostFilterRegistry = createRegistry<HostFilter>({
  kind: 'filter',
  entries: {
    RetryFilter: (o) => RetryFilter.fromOptions(o),
    AvailabilityZoneFilter: (o) => AvailabilityZoneFilter.fromOptions(o),
    ComputeFilter: (o) => ComputeFilter.fromOptions(o),
    RamFilter: (o) => RamFilter.fromOptions(o),
    CoreFilter: (o) => CoreFilter.fromOptions(o),
    DiskFilter: (o) => DiskFilter.fromOptions(o),
    ComputeCapabilitiesFilter: (o) => ComputeCapabilitiesFilter.fromOptions(o),
    ImagePropertiesFilter: (o) => ImagePropertiesFilter.fromOptions(o),
    ServerGroupAntiAffinityFilter: (o) => ServerGroupAntiAffinityFilter.fromOptions(o),
    ServerGroupAffinityFilter: (o) => ServerGroupAffinityFilter.fromOptions(o),
    SameHostFilter: (o) => SameHostFilter.fromOptions(o),
    DifferentHostFilter: (o) => DifferentHostFilter.fromOptions(o),
    AggregateInstanceExtraSpecsFilter: (o) => AggregateInstanceExtraSpecsFilter.fromOptions(o),
    AggregateMultiTenancyIsolation: (o) => AggregateMultiTenancyIsolation.fromOptions(o),
  },
})

/**
 * Built-in filters left out of the default, enabled by name in `host.enabled_filters`:
 * AggregateInstanceExtraSpecsFilter also checks unscoped flavor extra specs against aggregate
 * metadata (as Nova does), which would refuse every host to flavors whose unscoped specs are meant
 * for ComputeCapabilitiesFilter.
 */
export const OPT_IN_HOST_FILTERS = ['AggregateInstanceExtraSpecsFilter'] as const

/**
 * A sensible `enabled_filters` default: every built-in filter but {@link OPT_IN_HOST_FILTERS}. The order changes no outcome, only
 * the cost: filters that keep few hosts when they apply come first (SameHostFilter,
 * ServerGroupAffinityFilter), then the cheap checks on numbers, then name lookups, then the
 * string-matching filters on what is left. Nova leaves RAM, disk and vCPU checks to Placement; here
 * the filters do them, so they are on by default.
 */
export const DEFAULT_HOST_FILTERS = [
  'SameHostFilter',
  'ServerGroupAffinityFilter',
  'ComputeFilter',
  'AvailabilityZoneFilter',
  'RamFilter',
  'CoreFilter',
  'DiskFilter',
  'RetryFilter',
  'ServerGroupAntiAffinityFilter',
  'DifferentHostFilter',
  'ComputeCapabilitiesFilter',
  'ImagePropertiesFilter',
  'AggregateMultiTenancyIsolation',
] as const

export {
  AggregateInstanceExtraSpecsFilter,
  AggregateMultiTenancyIsolation,
  AvailabilityZoneFilter,
  ComputeCapabilitiesFilter,
  ComputeFilter,
  CoreFilter,
  DifferentHostFilter,
  DiskFilter,
  ImagePropertiesFilter,
  RamFilter,
  RetryFilter,
  SameHostFilter,
  ServerGroupAffinityFilter,
  ServerGroupAntiAffinityFilter,
}
