import { collectDefaultMetrics, Registry } from 'prom-client'

/**
 * The process's Prometheus registry. Every metric of the federation registers here (never in
 * prom-client's global default registry), so that a process exposes exactly what it runs: an
 * embedded federation shows every service in one place, a production process only its own.
 */
export const metricsRegistry = new Registry()

/** The `Content-Type` of {@link metricsText}'s output (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = metricsRegistry.contentType

let processMetrics = false

/**
 * Adds Node's process metrics (CPU, memory, event-loop lag, GC) to the registry. Idempotent; only
 * processes that serve metrics call it, so tests that import a metric do not start its timers.
 */
export function enableProcessMetrics(): void {
  if (processMetrics) return
  processMetrics = true
  collectDefaultMetrics({ register: metricsRegistry })
}

/** Every metric in the Prometheus text format (what `GET /metrics` answers). */
export function metricsText(): Promise<string> {
  return metricsRegistry.metrics()
}

/** Latency buckets (seconds) shared by HTTP, bus and gRPC histograms: 0.5 ms to 30 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const

/** The `outcome` label of a failed operation: our error code when it has one, else `internal`. */
export function outcomeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[a-z_]{1,40}$/.test(code) ? code : 'internal'
}
