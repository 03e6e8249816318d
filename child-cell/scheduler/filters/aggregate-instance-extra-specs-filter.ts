import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { hostAggregatesOf, valuesOf } from './aggregate-metadata.js'
import { matchExtraSpec } from './extra-specs-ops.js'

const SCOPE = 'aggregate_instance_extra_specs'

/**
 * Nova's AggregateInstanceExtraSpecsFilter: a flavor's extra specs in the
 * `aggregate_instance_extra_specs:` namespace, and unscoped ones, must be matched by the metadata of
 * one of the host's aggregates (Nova's operators: `s== x`, `<in> y`, `>= 4`...). A host in no
 * aggregate with that key fails. Keys in other namespaces (`hw:`, `quota:`...) are ignored; a
 * flavor without extra specs passes everywhere.
 *
 * Options: none.
 */
export class AggregateInstanceExtraSpecsFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'AggregateInstanceExtraSpecsFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): AggregateInstanceExtraSpecsFilter {
    readOptions({ pluginName: 'AggregateInstanceExtraSpecsFilter', options, defaults: {} })
    return new AggregateInstanceExtraSpecsFilter()
  }

  readonly #byHost = hostAggregatesOf()

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return Object.keys(spec.flavor.extraSpecs).some((k) => !k.includes(':') || k.startsWith(`${SCOPE}:`))
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const metadata = this.#byHost(spec).get(host.host) ?? []
    for (const [fullKey, wanted] of Object.entries(spec.flavor.extraSpecs)) {
      const scope = fullKey.split(':')
      if (scope.length > 1 && scope[0] !== SCOPE) continue
      const key = scope.length > 1 ? scope.slice(1).join(':') : fullKey
      const values = valuesOf(metadata, key)
      if (values.size === 0) return reject(`No aggregate of the host has metadata ${key}`)
      if (![...values].some((v) => matchExtraSpec(v, wanted))) return reject(`Aggregate metadata ${key} of the host does not match '${wanted}'`)
    }
    return PASS
  }
}
