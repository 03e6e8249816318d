import { InvalidPluginOptionError, readOptions } from '../../../shared/scheduling/registry.js'
import type { Weigher } from '../../../shared/scheduling/plugin.js'
import { memoizeLast } from '../../../shared/scheduling/plugin.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { countMembersByHost } from './group-members.js'

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

  readonly #counts = memoizeLast(countMembersByHost)

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return spec.group?.policy === 'soft-anti-affinity' && spec.group.hosts.length > 0
  }

  weigh(host: Readonly<HostState>, spec: Readonly<RequestSpec>): number {
    const group = spec.group
    if (group === undefined || group.policy !== 'soft-anti-affinity') return 0
    return -(this.#counts(group.hosts).get(host.host) ?? 0)
  }
}
