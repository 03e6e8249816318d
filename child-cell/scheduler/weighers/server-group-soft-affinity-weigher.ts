import { InvalidPluginOptionError, readOptions } from '../../../shared/scheduling/registry.js'
import type { Weigher } from '../../../shared/scheduling/plugin.js'
import { memoizeLast } from '../../../shared/scheduling/plugin.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { HostNameSet } from '../filters/host-name-set.js'

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

  readonly #counts = memoizeLast((hosts: readonly string[]) => new HostNameSet(hosts))

  /** Members per host when the request is in a 'soft-affinity' group that already has some. */
  #members(spec: Readonly<RequestSpec>): HostNameSet | undefined {
    const group = spec.group
    return group?.policy === 'soft-affinity' && group.hosts.length > 0 ? this.#counts(group.hosts) : undefined
  }

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return this.#members(spec) !== undefined
  }

  weigh(host: Readonly<HostState>, spec: Readonly<RequestSpec>): number {
    return (this.#members(spec)?.count(host.host) ?? 0)
  }

  weighAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>, out: Float64Array): void {
    const members = this.#members(spec)
    for (let r = 0; r < count; r++) out[r] = members === undefined ? 0 : members.count((hosts[idx[r] as number] as HostState).host)
  }
}
