import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import { describeRequirements, hasRequirements, imageRequirements, supportsImage } from '../image-properties.js'
import type { Filter, Verdict } from '../plugin.js'
import { PASS, memoizeLast, reject } from '../plugin.js'
import { readOptions } from '../registry.js'

/**
 * Keeps the cells with at least one kind of hypervisor that can run the image, judged exactly as the
 * host ImagePropertiesFilter judges one host (architecture, hypervisor type, VM mode `hvm`, and the
 * version requirement against each reported version). Cells v1's filter looked at the version
 * only; this one also checks architecture and type, so that an `aarch64` image is not routed to an
 * `x86_64`-only region.
 *
 * Options: none.
 */
export class CellImagePropertiesFilter implements Filter<CellCandidate, CellRequest> {
  readonly name = 'CellImagePropertiesFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): CellImagePropertiesFilter {
    readOptions({ pluginName: 'CellImagePropertiesFilter', options, defaults: {} })
    return new CellImagePropertiesFilter()
  }

  readonly #requirements = memoizeLast((properties: Readonly<Record<string, string>>) => {
    const req = imageRequirements(properties)
    return { req, any: hasRequirements(req), verdict: reject(`No hypervisor in the cell supports the image's requirements: ${describeRequirements(req)}`) }
  })

  appliesTo(request: Readonly<CellRequest>): boolean {
    return this.#requirements(request.imageProperties).any
  }

  passes(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): Verdict {
    const r = this.#requirements(request.imageProperties)
    if (!r.any) return PASS
    for (const kind of cell.hostKinds) {
      // A kind with no reported version stands for "version unknown", which satisfies any predicate.
      const versions = kind.hypervisorVersions.length === 0 ? [0] : kind.hypervisorVersions
      for (const hypervisorVersion of versions) {
        if (supportsImage(r.req, { cpuArch: kind.cpuArch, hypervisorType: kind.hypervisorType, hypervisorVersion })) return PASS
      }
    }
    return r.verdict
  }
}
