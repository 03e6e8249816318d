#!/usr/bin/env node
import { COMMON_HELP, cellRegistrations, federationConfig } from '../shared/config/federation.js'
import { requireServiceUrls } from '../shared/config/credentials.js'
import { parseOrExit, runMain, stopOnSignals } from '../shared/cli/process-main.js'
import { createLogger } from '../shared/logging.js'
import { metricsPortOf, serveMetrics } from '../shared/metrics/metrics-server.js'
import { runApiWorkers } from './api-workers.js'
import { startApi } from './runtime.js'
import { apiRuntimeArgsOf } from './runtime-args.js'

const USAGE = `Usage: node dist/api-cell/main.js [options]

Runs the API cell (identity :5000, compute :8774, image :9292, network :9696, global scheduler) in production mode
(MariaDB + RabbitMQ), as the production supervisor (npm run start:production) does.

  --metrics-port N       serve Prometheus metrics on GET /metrics at this port (default: none)
${COMMON_HELP}`

async function main(): Promise<void> {
  const values = parseOrExit(process.argv.slice(2), { 'metrics-port': { type: 'string' } }, USAGE, (v) => metricsPortOf(v['metrics-port']))
  if (values === undefined) return
  const cfg = federationConfig('production', values)
  // The API runs with the database account it was given (the supervisor's), never the local root.
  requireServiceUrls(cfg.serverUrlSources, ['database'])
  const log = createLogger('api')
  const rt = await runApiWorkers({
    workers: cfg.apiWorkers,
    log,
    start: async (forwardBuilds) => {
      const api = await startApi({
        ...apiRuntimeArgsOf(cfg, { cells: cellRegistrations(cfg), log }),
        ...(forwardBuilds === undefined ? {} : { forwardBuilds }),
      })
      // With --workers, the worker that dispatches builds serves the metrics (one port, one process).
      const metricsPort = forwardBuilds === undefined ? metricsPortOf(values['metrics-port']) : undefined
      const metrics = metricsPort === undefined ? undefined : await serveMetrics({ host: cfg.host, port: metricsPort })
      return {
        queue: api.dispatcher,
        stop: async () => {
          await Promise.all([api.stop(), metrics?.close()])
        },
      }
    },
  })
  stopOnSignals(() => rt.stop())
}

runMain(main)
