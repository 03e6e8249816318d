import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'

const REJECTION = reject("Host already has a member of the server group (policy 'anti-affinity')")

/**
 * Nova's ServerGroupAntiAffinityFilter: for a server group with the hard `anti-affinity` policy,
 * rejects every host that another member already uses (`spec.group.hosts`). Nova's
 * `max_server_per_host` rule (microversion 2.64) is not modelled: at most one member per host.
 *
 * Options: none.
 */
export class ServerGroupAntiAffinityFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'ServerGroupAntiAffinityFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): ServerGroupAntiAffinityFilter {
    readOptions({ pluginName: 'ServerGroupAntiAffinityFilter', options, defaults: {} })
    return new ServerGroupAntiAffinityFilter()
  }

  readonly #hosts = memoizeLast((hosts: readonly string[]) => new Set(hosts))

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return spec.group?.policy === 'anti-affinity' && spec.group.hosts.length > 0
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const group = spec.group
    if (group === undefined || group.policy !== 'anti-affinity') return PASS
    return this.#hosts(group.hosts).has(host.host) ? REJECTION : PASS
  }
}
