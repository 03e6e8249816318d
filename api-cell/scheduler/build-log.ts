import { isWithin } from '../../shared/cell-link/types.js'

/** How a build dispatched by the global scheduler ended (so far). */
export const BUILD_LOG_OUTCOMES = ['placed', 'error'] as const
/** One of {@link BUILD_LOG_OUTCOMES}. */
export type BuildLogOutcome = (typeof BUILD_LOG_OUTCOMES)[number]

/** A child that said no to a build (a NACK or a definite refusal), with its reason. */
export interface BuildRefusal {
  readonly cell_path: string
  readonly reason: string
  readonly at: string
}

/** One build as the operator's views show it (snake_case, as the admin API answers). */
export interface BuildLogEntry {
  readonly instance_uuid: string
  readonly at: string
  readonly outcome: BuildLogOutcome
  /** Where it was placed; `cell0` when it ended in ERROR. */
  readonly cell_path: string
  readonly host: string | null
  /** Why it ended in ERROR (empty when placed). */
  readonly reasons: readonly string[]
  /** Children that refused it on the way, in order. */
  readonly refusals: readonly BuildRefusal[]
}

/** Default of how many builds a {@link BuildLog} keeps. */
export const DEFAULT_BUILD_LOG_SIZE = 1000

/**
 * The global scheduler's memory of its latest builds: where each went, who refused it and why,
 * and the ERRORs with their reasons, for the admin API's recent builds (and the dashboard's cell
 * page). In memory and bounded (the oldest are forgotten first): it answers "what happened just
 * now" without a table that grows with every build; the durable truth stays in the instance
 * index and cell0. Each API process keeps its own.
 */
export class BuildLog {
  readonly #size: number
  readonly #entries: BuildLogEntry[] = []
  /** Refusals of builds still under way, by instance uuid. */
  readonly #pending = new Map<string, BuildRefusal[]>()
  readonly #now: () => number

  constructor(args: { readonly size?: number; readonly now?: () => number } = {}) {
    this.#size = Math.max(1, args.size ?? DEFAULT_BUILD_LOG_SIZE)
    this.#now = args.now ?? Date.now
  }

  #stamp(): string {
    return new Date(this.#now()).toISOString()
  }

  /** Notes that `cellPath` refused the build of `uuid`, which goes on to the next child. */
  refused(uuid: string, cellPath: string, reason: string): void {
    const list = this.#pending.get(uuid) ?? []
    list.push({ cell_path: cellPath, reason, at: this.#stamp() })
    this.#pending.set(uuid, list)
    // Bounded too: a build that never ends here (the API stopped) must not pin memory.
    if (this.#pending.size > this.#size) this.#pending.delete(this.#pending.keys().next().value as string)
  }

  /** Records how the build of `uuid` ended. */
  ended(uuid: string, end: { readonly outcome: BuildLogOutcome; readonly cellPath: string; readonly host: string | null; readonly reasons?: readonly string[] }): void {
    const refusals = this.#pending.get(uuid) ?? []
    this.#pending.delete(uuid)
    this.#entries.push({
      instance_uuid: uuid,
      at: this.#stamp(),
      outcome: end.outcome,
      cell_path: end.cellPath,
      host: end.host,
      reasons: [...(end.reasons ?? [])],
      refusals,
    })
    if (this.#entries.length > this.#size) this.#entries.splice(0, this.#entries.length - this.#size)
  }

  /**
   * The latest builds, newest first, at most `limit`. With `cell`: those placed in its subtree, refused
   * by a cell of it, or whose ERROR reasons name it.
   */
  recent(args: { readonly cell?: string | null; readonly limit: number }): BuildLogEntry[] {
    const cell = args.cell ?? null
    const out: BuildLogEntry[] = []
    for (let i = this.#entries.length - 1; i >= 0 && out.length < args.limit; i -= 1) {
      const e = this.#entries[i]
      if (e !== undefined && (cell === null || concerns(e, cell))) out.push(e)
    }
    return out
  }
}

/** Whether a reason (`api!region-one: api!region-one!dc1: no valid host`) names `cell` or a cell below it. */
const names = (reason: string, cell: string): boolean => reason.includes(`${cell}:`) || reason.includes(`${cell}!`)

function concerns(e: BuildLogEntry, cell: string): boolean {
  return isWithin(e.cell_path, cell) || e.refusals.some((r) => isWithin(r.cell_path, cell) || names(r.reason, cell)) || e.reasons.some((r) => names(r, cell))
}
