import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { HostNameSet } from './host-name-set.js'

const REJECTION = reject("Host runs an instance named by the 'different_host' hint")

/**
 * Nova's DifferentHostFilter: with the scheduler hint `different_host` (an instance uuid or a list of
 * them), rejects the hosts that run any of those instances. The caller resolves the uuids to hosts
 * into `spec.hintHosts.differentHost`.
 *
 * Options: none.
 */
export class DifferentHostFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'DifferentHostFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): DifferentHostFilter {
    readOptions({ pluginName: 'DifferentHostFilter', options, defaults: {} })
    return new DifferentHostFilter()
  }

  readonly #hosts = memoizeLast((hosts: readonly string[]) => new HostNameSet(hosts))

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return (spec.hintHosts?.differentHost?.length ?? 0) > 0
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const avoid = spec.hintHosts?.differentHost
    if (avoid === undefined || avoid.length === 0) return PASS
    return this.#hosts(avoid).has(host.host) ? REJECTION : PASS
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    const avoid = spec.hintHosts?.differentHost
    if (avoid === undefined || avoid.length === 0) return count
    const set = this.#hosts(avoid)
    let kept = 0
    for (let r = 0; r < count; r++) {
      const i = idx[r] as number
      if (!set.has((hosts[i] as HostState).host)) idx[kept++] = i
    }
    return kept
  }
}
