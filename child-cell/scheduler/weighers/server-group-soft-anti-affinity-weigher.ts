import { InvalidPluginOptionError, readOptions } from '../../../shared/scheduling/registry.js'
import type { Weigher } from '../../../shared/scheduling/plugin.js'
import { memoizeLast } from '../../../shared/scheduling/plugin.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { HostNameSet } from '../filters/host-name-set.js'

/**
 * Nova's ServerGroupSoftAntiAffinityWeigher: for a server group with the `soft-anti-affinity` policy,
 * prefers the hosts running fewer of its members (the raw weight is minus that count). It never
 * rejects: when every host has a member, the group still gets built.
 *
 * Options: `soft_anti_affinity_weight_multiplier` (default 1.0; must be >= 0, as in Nova).
 */
export class ServerGroupSoftAntiAffinityWeigher implements Weigher<HostState, RequestSpec> {
  readonly name = 'ServerGroupSoftAntiAffinityWeigher'
  readonly multiplier: number

  constructor(args: { readonly multiplier: number }) {
    this.multiplier = args.multiplier
  }

  /** Builds the weigher from its options. */
  static fromOptions(options: Readonly<Record<string, unknown>>): ServerGroupSoftAntiAffinityWeigher {
    const o = readOptions({
      pluginName: 'ServerGroupSoftAntiAffinityWeigher',
      options,
      defaults: { soft_anti_affinity_weight_multiplier: 1.0 },
    })
    if (o.soft_anti_affinity_weight_multiplier < 0) {
      throw new InvalidPluginOptionError({
        pluginName: 'ServerGroupSoftAntiAffinityWeigher',
        option: 'soft_anti_affinity_weight_multiplier',
        problem: 'must be >= 0',
      })
    }
    return new ServerGroupSoftAntiAffinityWeigher({ multiplier: o.soft_anti_affinity_weight_multiplier })
  }

  readonly #counts = memoizeLast((hosts: readonly string[]) => new HostNameSet(hosts))

  /** Members per host when the request is in a 'soft-anti-affinity' group that already has some. */
  #members(spec: Readonly<RequestSpec>): HostNameSet | undefined {
    const group = spec.group
    return group?.policy === 'soft-anti-affinity' && group.hosts.length > 0 ? this.#counts(group.hosts) : undefined
  }

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return this.#members(spec) !== undefined
  }

  weigh(host: Readonly<HostState>, spec: Readonly<RequestSpec>): number {
    return 0 - (this.#members(spec)?.count(host.host) ?? 0)
  }

  weighAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>, out: Float64Array): void {
    const members = this.#members(spec)
    for (let r = 0; r < count; r++) out[r] = members === undefined ? 0 : 0 - members.count((hosts[idx[r] as number] as HostState).host)
  }
}
