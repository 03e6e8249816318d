import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import type { ExtraSpecMatcher } from './extra-specs-ops.js'
import { compileExtraSpec } from './extra-specs-ops.js'

type Accessor = (h: Readonly<HostState>) => string | undefined

interface Requirement {
  /** Reads the first scope level: `capabilities:cpu_info:arch` -> the host's `cpu_info`. */
  readonly first: Accessor
  /** Deeper levels, looked up in JSON-encoded values: ['arch']. */
  readonly rest: readonly string[]
  /** An unscoped key is checked only when the host has that capability (Nova's compatibility rule). */
  readonly unscoped: boolean
  readonly matches: ExtraSpecMatcher
  readonly verdict: Verdict
}

/** First-level lookup: the host's own attributes (Nova's `HostState` attributes), then `capabilities`. */
function accessor(key: string): Accessor {
  switch (key) {
    case 'host': return (h) => h.host
    case 'cpu_arch': return (h) => h.cpuArch
    case 'hypervisor_type': return (h) => h.hypervisorType
    case 'hypervisor_version': return (h) => String(h.hypervisorVersion)
    case 'vcpus_total': return (h) => String(h.vcpus)
    case 'vcpus_used': return (h) => String(h.vcpusUsed)
    case 'num_instances': return (h) => String(h.instances)
    case 'cpu_allocation_ratio': return (h) => String(h.cpuAllocationRatio)
    case 'ram_allocation_ratio': return (h) => String(h.ramAllocationRatio)
    case 'disk_allocation_ratio': return (h) => String(h.diskAllocationRatio)
    default:
      return (h) => {
        // Only own string values count; the type check also rules out inherited members such as
        // `constructor` (and is cheaper than Object.hasOwn on every host).
        const v: unknown = h.capabilities[key]
        return typeof v === 'string' ? v : undefined
      }
  }
}

/** Nova's `_get_capabilities`, then `str(cap)`: deeper scopes descend into JSON-encoded values. */
function capability(h: Readonly<HostState>, r: Requirement): string | undefined {
  const top = r.first(h)
  if (top === undefined || r.rest.length === 0) return top
  let cap: unknown = top
  for (const key of r.rest) {
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
      const path = scope.length === 1 ? scope : scope.slice(1)
      out.push({
        first: accessor(path[0] as string),
        rest: path.slice(1),
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
      const value = capability(host, r)
      if (value === undefined ? !r.unscoped : !r.matches(value)) return r.verdict
    }
    return PASS
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    // One requirement at a time over the survivors of the previous one (each loop stays small enough
    // to optimise well). Hosts share a handful of distinct values per capability: the last answer is
    // remembered.
    let m = count
    for (const req of this.#compile(spec.flavor.extraSpecs)) {
      let lastValue: string | undefined
      let lastMatch = false
      let kept = 0
      for (let r = 0; r < m; r++) {
        const i = idx[r] as number
        const value = capability(hosts[i] as HostState, req)
        if (value === undefined) {
          if (req.unscoped) idx[kept++] = i
          continue
        }
        if (value !== lastValue) {
          lastValue = value
          lastMatch = req.matches(value)
        }
        if (lastMatch) idx[kept++] = i
      }
      m = kept
    }
    return m
  }
}
