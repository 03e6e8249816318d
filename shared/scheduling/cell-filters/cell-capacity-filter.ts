import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import { estimatedFit, reportedFit } from '../cell-candidate.js'
import type { Filter, Verdict } from '../plugin.js'
import { PASS, reject } from '../plugin.js'
import { readOptions } from '../registry.js'

/**
 * Keeps the cells where at least one instance of the flavor fits on a single host (RAM, vCPU and
 * disk together), from the per-flavor figures of the last capacity report, per availability zone
 * when the request names one and the report breaks it down.
 *
 * A flavor the report does not know (created since) falls back to the per-resource maxima over
 * single hosts (`largestHostFree`): optimistic, since the maxima may come from different hosts, but
 * never wrong the other way; a child that then cannot place answers NACK and the parent tries the
 * next one.
 *
 * Options: none.
 */
export class CellCapacityFilter implements Filter<CellCandidate, CellRequest> {
  readonly name = 'CellCapacityFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): CellCapacityFilter {
    readOptions({ pluginName: 'CellCapacityFilter', options, defaults: {} })
    return new CellCapacityFilter()
  }

  passes(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): Verdict {
    const reported = reportedFit(cell, request)
    if (reported !== undefined) {
      return reported.count > 0 && reported.maxPerHost > 0
        ? PASS
        : reject(`No host in the cell has room for flavor ${request.flavor.id}`)
    }
    const estimate = estimatedFit(cell, request)
    return estimate.maxPerHost > 0
      ? PASS
      : reject(
          `Flavor ${request.flavor.id} is not in the cell's report and no host has ` +
            `${request.flavor.memoryMb} MB, ${request.flavor.vcpus} vCPUs and ${request.flavor.diskGb} GB free`,
        )
  }
}
