import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'

const REJECTION = reject("Host is not one of the server group's hosts (policy 'affinity')")

/**
 * Nova's ServerGroupAffinityFilter: for a server group with the hard `affinity` policy, keeps only the
 * hosts its other members already use (`spec.group.hosts`). The group's first member (no hosts yet)
 * may go anywhere. Other policies are not this filter's business.
 *
 * Options: none.
 */
export class ServerGroupAffinityFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'ServerGroupAffinityFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): ServerGroupAffinityFilter {
    readOptions({ pluginName: 'ServerGroupAffinityFilter', options, defaults: {} })
    return new ServerGroupAffinityFilter()
  }

  readonly #hosts = memoizeLast((hosts: readonly string[]) => new Set(hosts))

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return spec.group?.policy === 'affinity' && spec.group.hosts.length > 0
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const group = spec.group
    if (group === undefined || group.policy !== 'affinity' || group.hosts.length === 0) return PASS
    return this.#hosts(group.hosts).has(host.host) ? PASS : REJECTION
  }
}
