import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import type { Filter, Verdict } from '../plugin.js'
import { PASS, reject } from '../plugin.js'
import { readOptions } from '../registry.js'

/**
 * When the request names an availability zone, keeps the cells with at least one up host in it. A
 * request without a zone keeps every cell.
 *
 * Options: none.
 */
export class CellAvailabilityZoneFilter implements Filter<CellCandidate, CellRequest> {
  readonly name = 'CellAvailabilityZoneFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): CellAvailabilityZoneFilter {
    readOptions({ pluginName: 'CellAvailabilityZoneFilter', options, defaults: {} })
    return new CellAvailabilityZoneFilter()
  }

  appliesTo(request: Readonly<CellRequest>): boolean {
    return request.availabilityZone !== undefined
  }

  passes(cell: Readonly<CellCandidate>, request: Readonly<CellRequest>): Verdict {
    const zone = request.availabilityZone
    if (zone === undefined || cell.availabilityZones.includes(zone)) return PASS
    return reject(`Availability zone '${zone}' requested; the cell has ${cell.availabilityZones.join(', ') || 'no zone'}`)
  }
}
