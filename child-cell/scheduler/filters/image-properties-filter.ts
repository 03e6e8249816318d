import {
  describeRequirements,
  hasRequirements,
  imageRequirements,
  supportsImage,
  supportsKind,
  supportsVersion,
} from '../../../shared/scheduling/image-properties.js'
import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'

/**
 * Nova's ImagePropertiesFilter: keeps hosts that can run the image, judged from its properties
 * `hw_architecture` (legacy `architecture`), `img_hv_type` (`hypervisor_type`), `hw_vm_mode`
 * (`vm_mode`) and `img_hv_requested_version` (`hypervisor_version_requires`, e.g. `>=4.2` or, in
 * Nova's integer form, `>=4002000`; a list `>=4.0, <7.0` needs every term). Names are canonicalised
 * as Nova does (`amd64` is `x86_64`, `QEMU` is `qemu`, `hv` is `hvm`).
 *
 * A host supports exactly one combination: its `cpuArch`, its `hypervisorType` and VM mode `hvm`.
 * A host reporting hypervisor version 0 (unknown) satisfies any version requirement, as in Nova.
 *
 * One deliberate difference: Nova ignores a version requirement when the image names no
 * architecture, type or mode; here it is always honoured (the cell-level filter, which must agree,
 * honours it too). An unparsable version requirement is satisfied by no host.
 *
 * Options: none.
 */
export class ImagePropertiesFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'ImagePropertiesFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): ImagePropertiesFilter {
    readOptions({ pluginName: 'ImagePropertiesFilter', options, defaults: {} })
    return new ImagePropertiesFilter()
  }

  readonly #requirements = memoizeLast((properties: Readonly<Record<string, string>>) => {
    const req = imageRequirements(properties)
    return { req, any: hasRequirements(req), verdict: reject(`Host does not support the image's requirements: ${describeRequirements(req)}`) }
  })

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return this.#requirements(spec.image.properties).any
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const r = this.#requirements(spec.image.properties)
    return !r.any || supportsImage(r.req, host) ? PASS : r.verdict
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    const r = this.#requirements(spec.image.properties)
    if (!r.any) return count
    // Neighbouring hosts are usually of one kind: reuse the last answer while the kind repeats.
    const checkKind = r.req.arch !== undefined || r.req.hypervisorType !== undefined || r.req.vmMode !== undefined
    let lastArch: string | undefined
    let lastType: string | undefined
    let lastKindOk = true
    let kept = 0
    for (let k = 0; k < count; k++) {
      const i = idx[k] as number
      const h = hosts[i] as HostState
      if (checkKind && (h.cpuArch !== lastArch || h.hypervisorType !== lastType)) {
        lastArch = h.cpuArch
        lastType = h.hypervisorType
        lastKindOk = supportsKind(r.req, h.cpuArch, h.hypervisorType)
      }
      if (lastKindOk && supportsVersion(r.req, h.hypervisorVersion)) idx[kept++] = i
    }
    return kept
  }
}
