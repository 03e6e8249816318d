import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { HostNameSet } from './host-name-set.js'

/**
 * Nova's RetryFilter: skips the hosts already tried for this build. When a claim loses a race or a
 * spawn fails, the conductor reschedules with the failed host in `spec.ignoreHosts`, so that the
 * same host is not picked again.
 *
 * Options: none.
 */
export class RetryFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'RetryFilter'

  /** Builds the filter from its options (it reads none; any option is a start-up error). */
  static fromOptions(options: Readonly<Record<string, unknown>>): RetryFilter {
    readOptions({ pluginName: 'RetryFilter', options, defaults: {} })
    return new RetryFilter()
  }

  readonly #tried = memoizeLast((ignoreHosts: readonly string[]) => ({
    hosts: new HostNameSet(ignoreHosts),
    verdict: reject(`Host was already tried for this request (previously tried: ${ignoreHosts.join(', ')})`),
  }))

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return spec.ignoreHosts.length > 0
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const tried = this.#tried(spec.ignoreHosts)
    return tried.hosts.has(host.host) ? tried.verdict : PASS
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    const tried = this.#tried(spec.ignoreHosts).hosts
    let kept = 0
    for (let r = 0; r < count; r++) {
      const i = idx[r] as number
      if (!tried.has((hosts[i] as HostState).host)) idx[kept++] = i
    }
    return kept
  }
}
