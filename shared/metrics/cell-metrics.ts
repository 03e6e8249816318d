import { Counter, Gauge, Histogram } from 'prom-client'
import type { CellCapacity } from '../cell-link/types.js'
import { LATENCY_BUCKETS, metricsRegistry } from './registry.js'

/**
 * Metrics of the cell tree: per-cell capacity and report age (read from the latest reports at
 * scrape time), builds by result (the global scheduler), and the outbox lag of each cell agent.
 */

type CapacitySource = () => readonly CellCapacity[]
const sources = new Set<CapacitySource>()

/**
 * Publishes the cells `source` reports (the API cell's `tree.reports()`) as gauges until the
 * returned function is called. Reports are read when Prometheus scrapes, never copied.
 */
export function observeCellCapacity(source: CapacitySource): () => void {
  sources.add(source)
  return () => {
    sources.delete(source)
  }
}

function currentCells(): CellCapacity[] {
  const byPath = new Map<string, CellCapacity>()
  for (const s of sources) for (const c of s()) byPath.set(c.path, c)
  return [...byPath.values()]
}

function cellGauge(name: string, help: string, value: (c: CellCapacity, now: number) => number): Gauge<'cell'> {
  return new Gauge({
    name,
    help,
    labelNames: ['cell'] as const,
    registers: [metricsRegistry],
    collect(this: Gauge<'cell'>) {
      this.reset()
      const now = Date.now()
      for (const c of currentCells()) this.set({ cell: c.path }, value(c, now))
    },
  })
}

/** 1 when the cell reported within the down interval. */
export const cellUp = cellGauge('federation_cell_up', 'Whether the cell reported within the down interval (1) or not (0)', (c) => (c.up ? 1 : 0))
/** 1 when the cell is disabled (takes no new builds). */
export const cellDisabled = cellGauge('federation_cell_disabled', 'Whether the cell is disabled for new builds', (c) => (c.disabled ? 1 : 0))
/** Compute hosts up (and enabled) in the cell's subtree. */
export const cellHostsUp = cellGauge('federation_cell_hosts_up', 'Compute hosts up and enabled in the cell subtree', (c) => c.hostsUp)
/** Compute hosts in the cell's subtree. */
export const cellHostsTotal = cellGauge('federation_cell_hosts_total', 'Compute hosts in the cell subtree', (c) => c.hostsTotal)
/** Instances running in the cell's subtree. */
export const cellInstances = cellGauge('federation_cell_instances', 'Instances in the cell subtree', (c) => c.instances)
/** Free RAM (allocation ratios and reserves applied). */
export const cellFreeRam = cellGauge('federation_cell_free_ram_mb', 'Free RAM in the cell subtree (MiB, ratios applied)', (c) => c.ramFreeMb)
/** Free vCPUs (allocation ratios applied). */
export const cellFreeVcpus = cellGauge('federation_cell_free_vcpus', 'Free vCPUs in the cell subtree (ratios applied)', (c) => c.vcpusFree)
/** Free disk (allocation ratios applied). */
export const cellFreeDisk = cellGauge('federation_cell_free_disk_gb', 'Free disk in the cell subtree (GiB, ratios applied)', (c) => c.diskFreeGb)
/** Seconds since the cell generated its latest report (-1: never reported). */
export const cellReportAge = cellGauge('federation_cell_report_age_seconds', 'Seconds since the cell generated its latest capacity report (-1: never)', (c, now) =>
  c.generatedAtMs === 0 ? -1 : Math.max(0, now - c.generatedAtMs) / 1000,
)

/** How many of each flavor fit in the cell's subtree, host by host. */
export const cellFlavorFits = new Gauge({
  name: 'federation_cell_flavor_fits',
  help: 'How many instances of the flavor fit in the cell subtree, host by host',
  labelNames: ['cell', 'flavor'] as const,
  registers: [metricsRegistry],
  collect(this: Gauge<'cell' | 'flavor'>) {
    this.reset()
    for (const c of currentCells()) for (const [flavor, fit] of Object.entries(c.flavorFits)) this.set({ cell: c.path, flavor }, fit.count)
  },
})

/** The results a build dispatch ends with. */
export const BUILD_RESULTS = ['placed', 'cell0', 'failed'] as const
/** One of {@link BUILD_RESULTS}. */
export type BuildResult = (typeof BUILD_RESULTS)[number]

/** Builds the global scheduler finished, by result. */
export const buildsTotal = new Counter({
  name: 'federation_builds_total',
  help: 'Builds dispatched by the global scheduler, by result (placed in a cell, recorded in cell0, failed)',
  labelNames: ['result'] as const,
  registers: [metricsRegistry],
})

/** Time from dispatch start to a cell accepting (or cell0). */
export const buildDispatchSeconds = new Histogram({
  name: 'federation_build_dispatch_duration_seconds',
  help: 'Time the global scheduler took to place a build, by result',
  labelNames: ['result'] as const,
  buckets: [...LATENCY_BUCKETS],
  registers: [metricsRegistry],
})

/** Counts one finished dispatch (and its duration, when its start is known). */
export function recordBuild(result: BuildResult, startedAtMs?: number): void {
  buildsTotal.inc({ result })
  if (startedAtMs !== undefined) buildDispatchSeconds.observe({ result }, Math.max(0, Date.now() - startedAtMs) / 1000)
}

/** Events in a cell's outbox that its parent has not acknowledged yet. */
export const outboxPending = new Gauge({
  name: 'federation_outbox_pending_events',
  help: 'Instance events in the cell outbox not yet acknowledged by the parent',
  labelNames: ['cell'] as const,
  registers: [metricsRegistry],
})

/** Age of the oldest unacknowledged outbox event (0 when the outbox is empty). */
export const outboxLagSeconds = new Gauge({
  name: 'federation_outbox_lag_seconds',
  help: 'Age of the oldest instance event in the cell outbox not yet acknowledged by the parent (0: empty)',
  labelNames: ['cell'] as const,
  registers: [metricsRegistry],
})

/**
 * Index rows an anti-entropy pass found differing from a child's versions, and rows it rewrote, per
 * child (`child`). A steady non-zero rate means events are being lost somewhere on that link.
 */
export const indexDriftFound = new Counter({
  name: 'federation_index_drift_found_total',
  help: 'Instances whose index row differed from the child subtree at an anti-entropy pass',
  labelNames: ['child'] as const,
  registers: [metricsRegistry],
})

/** See {@link indexDriftFound}. */
export const indexDriftRepaired = new Counter({
  name: 'federation_index_drift_repaired_total',
  help: 'Index rows rewritten from the leaves by anti-entropy passes',
  labelNames: ['child'] as const,
  registers: [metricsRegistry],
})
