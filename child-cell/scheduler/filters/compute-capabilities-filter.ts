import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import type { ExtraSpecMatcher } from './extra-specs-ops.js'
import { compileExtraSpec } from './extra-specs-ops.js'

interface Requirement {
  /** Lookup path below the host: `capabilities:cpu_info:arch` -> ['cpu_info', 'arch']. */
  readonly path: readonly string[]
  /** An unscoped key is checked only when the host has that capability (Nova's compatibility rule). */
  readonly unscoped: boolean
  readonly matches: ExtraSpecMatcher
  readonly verdict: Verdict
}

/** First-level lookup: the host's own attributes (Nova's `HostState` attributes), then `capabilities`. */
function hostCapability(h: Readonly<HostState>, key: string): string | undefined {
  switch (key) {
    case 'host': return h.host
    case 'cpu_arch': return h.cpuArch
    case 'hypervisor_type': return h.hypervisorType
    case 'hypervisor_version': return String(h.hypervisorVersion)
    case 'vcpus_total': return String(h.vcpus)
    case 'vcpus_used': return String(h.vcpusUsed)
    case 'num_instances': return String(h.instances)
    case 'cpu_allocation_ratio': return String(h.cpuAllocationRatio)
    case 'ram_allocation_ratio': return String(h.ramAllocationRatio)
    case 'disk_allocation_ratio': return String(h.diskAllocationRatio)
    default: return Object.hasOwn(h.capabilities, key) ? h.capabilities[key] : undefined
  }
}

/** Nova's `_get_capabilities`: deeper scopes descend into JSON-encoded values. */
function lookup(h: Readonly<HostState>, path: readonly string[]): string | undefined {
  const first = path[0]
  let cap: unknown = first === undefined ? undefined : hostCapability(h, first)
  for (let i = 1; i < path.length; i++) {
    const key = path[i] as string
    if (typeof cap === 'string') {
      try {
        cap = JSON.parse(cap) as unknown
      } catch {
        return undefined
      }
    }
    if (cap === null || typeof cap !== 'object' || !Object.hasOwn(cap, key)) return undefined
    cap = (cap as Record<string, unknown>)[key]
  }
  if (cap === undefined || cap === null) return undefined
  return typeof cap === 'string' ? cap : typeof cap === 'object' ? JSON.stringify(cap) : String(cap as number | boolean)
}

/**
 * Nova's ComputeCapabilitiesFilter: keeps hosts whose capabilities satisfy the flavor's extra specs.
 * - `capabilities:<key>` (or deeper, `capabilities:cpu_info:features`) must be present on the host and
 *   match; a host without it fails;
 * - an unscoped `<key>` is checked only if the host has that capability (Nova's compatibility rule);
 * - keys in any other namespace (`hw:`, `quota:`, `trait:`, ...) belong to other components: ignored.
 * Values use Nova's operators ({@link compileExtraSpec}): `s== x86_64`, `>= 4`, `<in> avx2`,
 * `<or> kvm <or> qemu`. Capabilities are `HostState.capabilities` plus the host attributes `host`,
 * `cpu_arch`, `hypervisor_type`, `hypervisor_version`, `vcpus_total`, `vcpus_used`, `num_instances`
 * and the allocation ratios (attributes win over a capability of the same name).
 *
 * Options: none.
 */
export class ComputeCapabilitiesFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'ComputeCapabilitiesFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): ComputeCapabilitiesFilter {
    readOptions({ pluginName: 'ComputeCapabilitiesFilter', options, defaults: {} })
    return new ComputeCapabilitiesFilter()
  }

  readonly #compile = memoizeLast((extraSpecs: Readonly<Record<string, string>>): readonly Requirement[] => {
    const out: Requirement[] = []
    for (const [key, req] of Object.entries(extraSpecs)) {
      const scope = key.split(':')
      if (scope.length > 1 && scope[0] !== 'capabilities') continue
      out.push({
        path: scope.length === 1 ? scope : scope.slice(1),
        unscoped: scope.length === 1,
        matches: compileExtraSpec(req),
        verdict: reject(`Extra spec '${key}' = '${req}' is not satisfied by the host's capabilities`),
      })
    }
    return out
  })

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return this.#compile(spec.flavor.extraSpecs).length > 0
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    for (const r of this.#compile(spec.flavor.extraSpecs)) {
      const value = lookup(host, r.path)
      if (value === undefined) {
        if (r.unscoped) continue
        return r.verdict
      }
      if (!r.matches(value)) return r.verdict
    }
    return PASS
  }
}
