#!/usr/bin/env node
import { COMMON_HELP, adminPasswordFor, apiDatabases, cellRegistrations, federationConfig, parseFlags } from '../shared/config/federation.js'
import { createLogger } from '../shared/logging.js'
import { metricsPortOf, serveMetrics } from '../shared/metrics/metrics-server.js'
import { startApi } from './runtime.js'

const USAGE = `Usage: node dist/api-cell/main.js [options]

Runs the API cell (identity :5000, compute :8774, image :9292, global scheduler) in production mode
(MariaDB + RabbitMQ), as the production supervisor (npm run start:production) does.

  --metrics-port N       serve Prometheus metrics on GET /metrics at this port (default: none)
${COMMON_HELP}`

async function main(): Promise<void> {
  let values
  try {
    values = parseFlags(process.argv.slice(2), { 'metrics-port': { type: 'string' } })
    metricsPortOf(values['metrics-port'])
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`)
    process.exit(2)
  }
  if (values['help'] === true) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const cfg = federationConfig('production', values)
  const log = createLogger('api')
  const dbs = apiDatabases(cfg)
  const rt = await startApi({
    apiDatabaseUrl: dbs.api,
    cell0DatabaseUrl: dbs.cell0,
    stateDir: cfg.stateDir,
    host: cfg.host,
    ports: cfg.ports,
    regions: cfg.regions.map((r) => r.name),
    cells: cellRegistrations(cfg),
    adminPassword: adminPasswordFor(cfg),
    downAfterMs: cfg.timing.downAfterMs,
    maxCellAttempts: cfg.scheduler.maxCellAttempts,
    scheduler: cfg.scheduler,
    log,
  })
  const metricsPort = metricsPortOf(values['metrics-port'])
  const metrics = metricsPort === undefined ? undefined : await serveMetrics({ host: cfg.host, port: metricsPort })
  const stop = (): void => {
    Promise.all([rt.stop(), metrics?.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
