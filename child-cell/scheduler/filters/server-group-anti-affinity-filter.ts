import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { HostNameSet } from './host-name-set.js'

const REJECTION = reject("Host already runs max_server_per_host members of the server group (policy 'anti-affinity')")

/**
 * Nova's ServerGroupAntiAffinityFilter: for a server group with the hard `anti-affinity` policy,
 * rejects every host that already runs `max_server_per_host` of its members (`spec.group.hosts`,
 * one entry per member; the rule of microversion 2.64, default 1: no host runs two members).
 * The filter sees a snapshot; the claim re-checks the rule atomically in the cell DB.
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

  readonly #hosts = memoizeLast((hosts: readonly string[]) => new HostNameSet(hosts))

  /** The group's hosts when the request is in an 'anti-affinity' group that already has some, else undefined. */
  #members(spec: Readonly<RequestSpec>): HostNameSet | undefined {
    const group = spec.group
    return group?.policy === 'anti-affinity' && group.hosts.length > 0 ? this.#hosts(group.hosts) : undefined
  }

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return this.#members(spec) !== undefined
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const members = this.#members(spec)
    if (members === undefined) return PASS
    return members.count(host.host) >= maxPerHost(spec) ? REJECTION : PASS
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    const members = this.#members(spec)
    if (members === undefined) return count
    const max = maxPerHost(spec)
    let kept = 0
    for (let r = 0; r < count; r++) {
      const i = idx[r] as number
      if (members.count((hosts[i] as HostState).host) < max) idx[kept++] = i
    }
    return kept
  }
}

/** The group's `max_server_per_host` (at least 1). */
function maxPerHost(spec: Readonly<RequestSpec>): number {
  return Math.max(1, Math.floor(spec.group?.maxServerPerHost ?? 1))
}
