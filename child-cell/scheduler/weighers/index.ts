/**
 * The host weighers a leaf cell's scheduler can enable by name (Nova's `weight_classes`). Each
 * reads its own multiplier option; an unknown name is a start-up error (see `buildWeighers`).
 */
import type { Weigher } from '../../../shared/scheduling/plugin.js'
import { createRegistry } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { CPUWeigher } from './cpu-weigher.js'
import { DiskWeigher } from './disk-weigher.js'
import { RAMWeigher } from './ram-weigher.js'
import { ServerGroupSoftAffinityWeigher } from './server-group-soft-affinity-weigher.js'
import { ServerGroupSoftAntiAffinityWeigher } from './server-group-soft-anti-affinity-weigher.js'

/** A weigher over compute hosts. */
export type HostWeigher = Weigher<HostState, RequestSpec>

/** Every built-in host weigher, by its Nova name. */
export const hostWeigherRegistry = createRegistry<HostWeigher>({
  kind: 'weigher',
  entries: {
    RAMWeigher: (o) => RAMWeigher.fromOptions(o),
    CPUWeigher: (o) => CPUWeigher.fromOptions(o),
    DiskWeigher: (o) => DiskWeigher.fromOptions(o),
    ServerGroupSoftAffinityWeigher: (o) => ServerGroupSoftAffinityWeigher.fromOptions(o),
    ServerGroupSoftAntiAffinityWeigher: (o) => ServerGroupSoftAntiAffinityWeigher.fromOptions(o),
  },
})

/** A sensible default: all built-in weighers (Nova's `nova.scheduler.weights.all_weighers`). */
export const DEFAULT_HOST_WEIGHERS = [
  'RAMWeigher',
  'CPUWeigher',
  'DiskWeigher',
  'ServerGroupSoftAffinityWeigher',
  'ServerGroupSoftAntiAffinityWeigher',
] as const

export { CPUWeigher, DiskWeigher, RAMWeigher, ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher }
