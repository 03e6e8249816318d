import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'

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

  readonly #hosts = memoizeLast((hosts: readonly string[]) => new Set(hosts))

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return (spec.hintHosts?.differentHost?.length ?? 0) > 0
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const avoid = spec.hintHosts?.differentHost
    if (avoid === undefined || avoid.length === 0) return PASS
    return this.#hosts(avoid).has(host.host) ? REJECTION : PASS
  }
}
