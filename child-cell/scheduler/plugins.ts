import type { SchedulerConfig } from '../../shared/config/scheduler-config.js'
import { pick } from '../../shared/config/scheduler-config.js'
import { buildFilters, buildWeighers } from '../../shared/scheduling/registry.js'
import type { HostFilter } from './filters/index.js'
import { DEFAULT_HOST_FILTERS, hostFilterRegistry } from './filters/index.js'
import type { HostWeigher } from './weighers/index.js'
import { DEFAULT_HOST_WEIGHERS, hostWeigherRegistry } from './weighers/index.js'

/**
 * The host filters and weighers `cfg` enables (the built-in defaults when it names none), built.
 * Throws at start-up for an unknown name, an option for an unknown plugin, or a bad option.
 *
 * @example
 * const { filters, weighers } = hostPluginsOf(cfg.scheduler)
 */
export function hostPluginsOf(cfg: SchedulerConfig): { filters: HostFilter[]; weighers: HostWeigher[] } {
  const known = [...hostFilterRegistry.names, ...hostWeigherRegistry.names]
  const unknown = Object.keys(cfg.hostOptions).filter((n) => !known.includes(n))
  if (unknown.length > 0) {
    throw new Error(`scheduler config: options for unknown host plugin(s) ${unknown.join(', ')}; known: ${known.join(', ')}`)
  }
  return {
    filters: buildFilters(hostFilterRegistry, cfg.hostFilters ?? DEFAULT_HOST_FILTERS, pick(cfg.hostOptions, hostFilterRegistry.names)),
    weighers: buildWeighers(hostWeigherRegistry, cfg.hostWeighers ?? DEFAULT_HOST_WEIGHERS, pick(cfg.hostOptions, hostWeigherRegistry.names)),
  }
}
