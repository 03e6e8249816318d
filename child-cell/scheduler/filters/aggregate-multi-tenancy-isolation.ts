import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { hostAggregatesOf } from './aggregate-metadata.js'

const REJECTION = reject("The host's aggregates are isolated to other projects (filter_tenant_id)")

/**
 * Nova's AggregateMultiTenancyIsolation: a host in an aggregate with `filter_tenant_id` metadata
 * (or `filter_tenant_id_<suffix>` keys, each a comma-separated list of project ids) only takes
 * instances of those projects. A host without such metadata takes every project.
 *
 * Options: none.
 */
export class AggregateMultiTenancyIsolation implements Filter<HostState, RequestSpec> {
  readonly name = 'AggregateMultiTenancyIsolation'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): AggregateMultiTenancyIsolation {
    readOptions({ pluginName: 'AggregateMultiTenancyIsolation', options, defaults: {} })
    return new AggregateMultiTenancyIsolation()
  }

  readonly #byHost = hostAggregatesOf()

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return (spec.aggregates ?? []).some((a) => Object.keys(a.metadata).some((k) => k.startsWith('filter_tenant_id')))
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const allowed = new Set<string>()
    for (const m of this.#byHost(spec).get(host.host) ?? []) {
      for (const [k, v] of Object.entries(m)) {
        if (k.startsWith('filter_tenant_id')) for (const p of v.split(',')) allowed.add(p.trim())
      }
    }
    return allowed.size === 0 || allowed.has(spec.projectId) ? PASS : REJECTION
  }
}
