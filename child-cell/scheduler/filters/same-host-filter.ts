import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { HostNameSet } from './host-name-set.js'

const REJECTION = reject("Host runs none of the instances named by the 'same_host' hint")

/**
 * Nova's SameHostFilter: with the scheduler hint `same_host` (an instance uuid or a list of them),
 * keeps only the hosts that run one of those instances. The caller resolves the uuids to hosts into
 * `spec.hintHosts.sameHost` (filters look nothing up). As in Nova, a hint whose instances run nowhere
 * (an empty list) leaves no host; no hint (`undefined`) keeps every host.
 *
 * Options: none.
 */
export class SameHostFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'SameHostFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): SameHostFilter {
    readOptions({ pluginName: 'SameHostFilter', options, defaults: {} })
    return new SameHostFilter()
  }

  readonly #hosts = memoizeLast((hosts: readonly string[]) => new HostNameSet(hosts))

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return spec.hintHosts?.sameHost !== undefined
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const wanted = spec.hintHosts?.sameHost
    if (wanted === undefined) return PASS
    return this.#hosts(wanted).has(host.host) ? PASS : REJECTION
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    const wanted = spec.hintHosts?.sameHost
    if (wanted === undefined) return count
    const set = this.#hosts(wanted)
    let kept = 0
    for (let r = 0; r < count; r++) {
      const i = idx[r] as number
      if (set.has((hosts[i] as HostState).host)) idx[kept++] = i
    }
    return kept
  }
}
