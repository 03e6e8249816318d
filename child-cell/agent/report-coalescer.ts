/**
 * Coalesces capacity-change nudges into reports: the first change after a quiet spell is reported
 * at once (leading edge), changes that follow within `gapMs` of the last report are gathered into
 * one report at the end of that gap (trailing edge). A change thus travels up each level of the
 * tree on its event, not after a fixed delay per level (with a plain 50 ms debounce, three levels
 * added 150 ms to every change), while a burst of changes still costs at most one report per gap.
 */
export class ReportCoalescer {
  readonly #gapMs: number
  readonly #run: () => void
  #lastRunAt = Number.NEGATIVE_INFINITY
  #pending: NodeJS.Timeout | undefined

  /** `run` starts one report; it is never called twice within `gapMs`, except by a direct call. */
  constructor(args: { readonly gapMs: number; readonly run: () => void }) {
    this.#gapMs = args.gapMs
    this.#run = args.run
  }

  /** Something changed: report now, or once the current gap is over (one report for many changes). */
  trigger(now = Date.now()): void {
    if (this.#pending !== undefined) return
    const wait = Math.max(0, this.#lastRunAt + this.#gapMs - now)
    this.#pending = setTimeout(() => {
      this.#pending = undefined
      this.#lastRunAt = Date.now()
      this.#run()
    }, wait)
  }

  /** Drops a report not yet started (the agent stops). */
  cancel(): void {
    if (this.#pending !== undefined) clearTimeout(this.#pending)
    this.#pending = undefined
  }
}
