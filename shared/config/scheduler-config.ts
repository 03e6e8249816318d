import { existsSync, readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { z } from 'zod'
import type { CellFilter } from '../scheduling/cell-filters/index.js'
import { cellFilterRegistry, DEFAULT_CELL_FILTERS } from '../scheduling/cell-filters/index.js'
import type { CellWeigher } from '../scheduling/cell-weighers/index.js'
import { cellWeigherRegistry, DEFAULT_CELL_WEIGHERS } from '../scheduling/cell-weighers/index.js'
import type { OptionsByName } from '../scheduling/registry.js'
import { buildFilters, buildWeighers } from '../scheduling/registry.js'

/**
 * Scheduler settings (Nova's `[filter_scheduler]` and `[scheduler]` sections, plus the cell
 * scheduler every parent runs), read from an optional YAML file (`deploy/scheduler.yaml`, or
 * `--scheduler-config FILE` / `FEDERATION_SCHEDULER_CONFIG`) and validated once at start-up.
 *
 * Filter and weigher lists name plugins; an unknown name, an option for an unknown plugin or a
 * mistyped option is a start-up error. Cell plugins are checked here; host plugins live with the
 * leaf scheduler (`child-cell/`), which `shared/` must not import, so they are checked when a
 * scheduler starts (and by the production supervisor before it starts anything).
 *
 * Allocation ratios are per host and live in the region files (`cpu_allocation_ratio`, ...).
 */
export interface SchedulerConfig {
  /** Nova's `host_subset_size`: the winner is drawn at random among the best N hosts. */
  readonly hostSubsetSize: number
  /** Nova's `max_attempts`: hosts a leaf tries for one build (first choice plus spawn-failure retries) before it hands the build back up. */
  readonly maxAttempts: number
  /** How many children a parent tries for one build before it answers NACK (or, at the top, cell0). */
  readonly maxCellAttempts: number
  /** How many times a scheduler that lost every claim race re-reads the hosts and decides again. */
  readonly maxClaimRounds: number
  /**
   * How long a scheduler reuses the host states it read (0: read the cell DB for every decision).
   * Claims stay exact either way (they re-check capacity in the DB); a cache saves one read of
   * every compute node per decision at the price of seeing changes (a disabled host) that late.
   */
  readonly hostStateCacheMs: number
  /** Production: scheduler processes per cell with hosts (they share the cell's scheduler queue). */
  readonly workers: number
  /** Host filters in run order; `undefined`: the built-in default list. */
  readonly hostFilters: readonly string[] | undefined
  /** Host weighers; `undefined`: the built-in default list. */
  readonly hostWeighers: readonly string[] | undefined
  /** Options per host plugin name (e.g. `RAMWeigher: { ram_weight_multiplier: -1 }` to stack). */
  readonly hostOptions: OptionsByName
  readonly cellFilters: readonly string[]
  readonly cellWeighers: readonly string[]
  readonly cellOptions: OptionsByName
}

/** Nova's defaults (host_subset_size 1, max_attempts 3) and three children per parent. */
export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = Object.freeze({
  hostSubsetSize: 1,
  maxAttempts: 3,
  maxCellAttempts: 3,
  maxClaimRounds: 3,
  hostStateCacheMs: 0,
  workers: 1,
  hostFilters: undefined,
  hostWeighers: undefined,
  hostOptions: Object.freeze({}),
  cellFilters: DEFAULT_CELL_FILTERS,
  cellWeighers: DEFAULT_CELL_WEIGHERS,
  cellOptions: Object.freeze({}),
})

const names = z.array(z.string().min(1)).max(64)
const options = z.record(z.string(), z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])))
const count = (max: number) => z.number().int().min(1).max(max)

const fileSchema = z
  .object({
    host: z
      .object({
        enabled_filters: names.optional(),
        weighers: names.optional(),
        options: options.optional(),
        host_subset_size: count(1000).optional(),
        max_attempts: count(100).optional(),
        max_claim_rounds: count(100).optional(),
        host_state_cache_ms: z.number().int().min(0).max(600_000).optional(),
      })
      .strict()
      .optional(),
    cell: z
      .object({
        enabled_filters: names.optional(),
        weighers: names.optional(),
        options: options.optional(),
        max_attempts: count(100).optional(),
      })
      .strict()
      .optional(),
    workers: count(64).optional(),
  })
  .strict()

/**
 * Parses the scheduler YAML (`text`; `file` only names it in errors) over the defaults, then
 * applies `overrides` (command-line flags). Throws a one-line error for anything invalid.
 *
 * @example
 * parseSchedulerConfig('host:\n  host_subset_size: 2\n', 'scheduler.yaml').hostSubsetSize // 2
 */
export function parseSchedulerConfig(text: string, file: string, overrides: { readonly workers?: number } = {}): SchedulerConfig {
  const raw: unknown = text.trim() === '' ? {} : parse(text)
  const result = fileSchema.safeParse(raw ?? {})
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new Error(`${file}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`)
  }
  const h = result.data.host ?? {}
  const c = result.data.cell ?? {}
  const d = DEFAULT_SCHEDULER_CONFIG
  const cfg: SchedulerConfig = {
    hostSubsetSize: h.host_subset_size ?? d.hostSubsetSize,
    maxAttempts: h.max_attempts ?? d.maxAttempts,
    maxCellAttempts: c.max_attempts ?? d.maxCellAttempts,
    maxClaimRounds: h.max_claim_rounds ?? d.maxClaimRounds,
    hostStateCacheMs: h.host_state_cache_ms ?? d.hostStateCacheMs,
    workers: overrides.workers ?? result.data.workers ?? d.workers,
    hostFilters: h.enabled_filters ?? d.hostFilters,
    hostWeighers: h.weighers ?? d.hostWeighers,
    hostOptions: h.options ?? d.hostOptions,
    cellFilters: c.enabled_filters ?? d.cellFilters,
    cellWeighers: c.weighers ?? d.cellWeighers,
    cellOptions: c.options ?? d.cellOptions,
  }
  try {
    // Cell plugins are known here: an unknown name or option fails now, not at the first build.
    cellPluginsOf(cfg)
    const unknown = Object.keys(cfg.cellOptions).filter((n) => !cellFilterRegistry.names.includes(n) && !cellWeigherRegistry.names.includes(n))
    if (unknown.length > 0) throw new Error(`options for unknown cell plugin(s) ${unknown.join(', ')}`)
  } catch (err) {
    throw new Error(`${file}: cell: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  return cfg
}

/**
 * Reads the scheduler configuration: `path` when given (it must exist), else `fallbackPath` when
 * that file exists, else the defaults.
 */
export function loadSchedulerConfig(args: {
  readonly path: string | undefined
  readonly fallbackPath: string
  readonly workers?: number
}): SchedulerConfig {
  const overrides = args.workers === undefined ? {} : { workers: args.workers }
  if (args.path !== undefined) {
    if (!existsSync(args.path)) throw new Error(`scheduler config ${args.path} does not exist`)
    return parseSchedulerConfig(readFileSync(args.path, 'utf8'), args.path, overrides)
  }
  if (existsSync(args.fallbackPath)) return parseSchedulerConfig(readFileSync(args.fallbackPath, 'utf8'), args.fallbackPath, overrides)
  return { ...DEFAULT_SCHEDULER_CONFIG, ...overrides }
}

/**
 * The options of `cfg` meant for the plugins of one registry. Filters and weighers share one
 * `options` map per level in the file; each registry is handed its own plugins' entries.
 */
export function pick(optionsByName: OptionsByName, known: readonly string[]): OptionsByName {
  return Object.fromEntries(Object.entries(optionsByName).filter(([name]) => known.includes(name)))
}

/**
 * The cell filters and weighers `cfg` enables, built (each parent builds its own: the API cell's
 * global scheduler and every cell agent with children).
 */
export function cellPluginsOf(cfg: SchedulerConfig): { filters: CellFilter[]; weighers: CellWeigher[] } {
  return {
    filters: buildFilters(cellFilterRegistry, cfg.cellFilters, pick(cfg.cellOptions, cellFilterRegistry.names)),
    weighers: buildWeighers(cellWeigherRegistry, cfg.cellWeighers, pick(cfg.cellOptions, cellWeigherRegistry.names)),
  }
}
