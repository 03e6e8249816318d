import { InvalidPluginOptionError, readOptions } from '../../../shared/scheduling/registry.js'
import type { Weigher } from '../../../shared/scheduling/plugin.js'
import { memoizeLast } from '../../../shared/scheduling/plugin.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { countMembersByHost } from './group-members.js'

/**
 * Nova's ServerGroupSoftAffinityWeigher: for a server group with the `soft-affinity` policy, prefers
 * the hosts running more of its members (the raw weight is that count). Unlike the hard filter it
 * never rejects: a full host just loses to the next best.
 *
 * Options: `soft_affinity_weight_multiplier` (default 1.0; must be >= 0, as in Nova).
 */
export class ServerGroupSoftAffinityWeigher implements Weigher<HostState, RequestSpec> {
  readonly name = 'ServerGroupSoftAffinityWeigher'
  readonly multiplier: number

  constructor(args: { readonly multiplier: number }) {
    this.multiplier = args.multiplier
  }

  /** Builds the weigher from its options. */
  static fromOptions(options: Readonly<Record<string, unknown>>): ServerGroupSoftAffinityWeigher {
    const o = readOptions({
      pluginName: 'ServerGroupSoftAffinityWeigher',
      options,
      defaults: { soft_affinity_weight_multiplier: 1.0 },
    })
    if (o.soft_affinity_weight_multiplier < 0) {
      throw new InvalidPluginOptionError({
        pluginName: 'ServerGroupSoftAffinityWeigher',
        option: 'soft_affinity_weight_multiplier',
        problem: 'must be >= 0',
      })
    }
    return new ServerGroupSoftAffinityWeigher({ multiplier: o.soft_affinity_weight_multiplier })
  }

  readonly #counts = memoizeLast(countMembersByHost)

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return spec.group?.policy === 'soft-affinity' && spec.group.hosts.length > 0
  }

  weigh(host: Readonly<HostState>, spec: Readonly<RequestSpec>): number {
    const group = spec.group
    if (group === undefined || group.policy !== 'soft-affinity') return 0
    return this.#counts(group.hosts).get(host.host) ?? 0
  }
}
