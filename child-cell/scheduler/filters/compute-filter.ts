import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'

const DISABLED = reject('Compute service is disabled')
const DOWN = reject('Compute service has not been heard from in a while (down)')

/**
 * Nova's ComputeFilter: keeps hosts whose compute service is enabled and up (reported within the
 * service-down time; the caller computes `serviceUp`, so the filter stays pure).
 *
 * Options: none.
 */
export class ComputeFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'ComputeFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): ComputeFilter {
    readOptions({ pluginName: 'ComputeFilter', options, defaults: {} })
    return new ComputeFilter()
  }

  passes(host: Readonly<HostState>, _spec: Readonly<RequestSpec>): Verdict {
    // Nova checks "disabled" first: an operator's decision explains more than a missed heartbeat.
    if (host.serviceDisabled) return DISABLED
    if (!host.serviceUp) return DOWN
    return PASS
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, _spec: Readonly<RequestSpec>): number {
    let kept = 0
    for (let r = 0; r < count; r++) {
      const i = idx[r] as number
      const h = hosts[i] as HostState
      if (h.serviceUp && !h.serviceDisabled) idx[kept++] = i
    }
    return kept
  }
}
