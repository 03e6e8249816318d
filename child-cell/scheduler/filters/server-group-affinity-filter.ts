import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { HostNameSet } from './host-name-set.js'

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

  readonly #hosts = memoizeLast((hosts: readonly string[]) => new HostNameSet(hosts))

  /** The group's hosts when the request is in an 'affinity' group that already has some, else undefined. */
  #members(spec: Readonly<RequestSpec>): HostNameSet | undefined {
    const group = spec.group
    return group?.policy === 'affinity' && group.hosts.length > 0 ? this.#hosts(group.hosts) : undefined
  }

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return this.#members(spec) !== undefined
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const members = this.#members(spec)
    if (members === undefined) return PASS
    return members.has(host.host) ? PASS : REJECTION
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    const members = this.#members(spec)
    if (members === undefined) return count
    let kept = 0
    for (let r = 0; r < count; r++) {
      const i = idx[r] as number
      if (members.has((hosts[i] as HostState).host)) idx[kept++] = i
    }
    return kept
  }
}
