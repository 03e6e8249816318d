import type { CellCandidate, CellRequest } from '../cell-candidate.js'
import type { Weigher } from '../plugin.js'
import { InvalidPluginOptionError, readOptions } from '../registry.js'

/**
 * Cells v1's MuteChildWeigher, made gradual: the older a child's last capacity report, the less its
 * figures can be trusted, so the lower it ranks. The raw weight is the staleness in [0,1]: 0 up to
 * `stale_report_grace_seconds`, rising linearly to 1 at `stale_report_horizon_seconds` (cf. v1's
 * `mute_child_interval`), 1 beyond. Its bounds are fixed (`minval` 0, `maxval` 1), so that two
 * equally fresh cells are not told apart by milliseconds of jitter. A child silent past the down
 * interval is excluded by CellDisabledFilter; this weigher handles the grey zone before that.
 *
 * Options: `stale_weight_multiplier` (default -10.0, as v1's `mute_weight_multiplier`; must be <= 0),
 * `stale_report_grace_seconds` (default 60), `stale_report_horizon_seconds` (default 300).
 */
export class CellStaleReportWeigher implements Weigher<CellCandidate, CellRequest> {
  readonly name = 'CellStaleReportWeigher'
  readonly multiplier: number
  readonly minval = 0
  readonly maxval = 1
  readonly #graceMs: number
  readonly #horizonMs: number

  constructor(args: { readonly multiplier: number; readonly graceMs: number; readonly horizonMs: number }) {
    this.multiplier = args.multiplier
    this.#graceMs = args.graceMs
    this.#horizonMs = args.horizonMs
  }

  /** Builds the weigher from its options. */
  static fromOptions(options: Readonly<Record<string, unknown>>): CellStaleReportWeigher {
    const pluginName = 'CellStaleReportWeigher'
    const o = readOptions({
      pluginName,
      options,
      defaults: { stale_weight_multiplier: -10.0, stale_report_grace_seconds: 60, stale_report_horizon_seconds: 300 },
    })
    if (o.stale_weight_multiplier > 0) {
      throw new InvalidPluginOptionError({ pluginName, option: 'stale_weight_multiplier', problem: 'must be <= 0 (a penalty)' })
    }
    if (o.stale_report_grace_seconds < 0) {
      throw new InvalidPluginOptionError({ pluginName, option: 'stale_report_grace_seconds', problem: 'must be >= 0' })
    }
    if (o.stale_report_horizon_seconds <= o.stale_report_grace_seconds) {
      throw new InvalidPluginOptionError({
        pluginName,
        option: 'stale_report_horizon_seconds',
        problem: 'must be greater than stale_report_grace_seconds',
      })
    }
    return new CellStaleReportWeigher({
      multiplier: o.stale_weight_multiplier,
      graceMs: o.stale_report_grace_seconds * 1000,
      horizonMs: o.stale_report_horizon_seconds * 1000,
    })
  }

  weigh(cell: Readonly<CellCandidate>, _request: Readonly<CellRequest>): number {
    const staleness = (cell.reportAgeMs - this.#graceMs) / (this.#horizonMs - this.#graceMs)
    return staleness <= 0 ? 0 : staleness >= 1 ? 1 : staleness
  }
}
