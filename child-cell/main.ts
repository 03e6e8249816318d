#!/usr/bin/env node
import { COMMON_HELP, cellEndpoints, federationConfig } from '../shared/config/federation.js'
import { requireServiceUrls } from '../shared/config/credentials.js'
import { allCells } from '../shared/config/regions.js'
import { parseOrExit, runMain, stopOnSignals } from '../shared/cli/process-main.js'
import { createLogger } from '../shared/logging.js'
import { metricsPortOf, serveMetrics } from '../shared/metrics/metrics-server.js'
import { libvirtAvailable } from './compute/virt/create-driver.js'
import type { CellRole } from './runtime.js'
import { CELL_ROLES, startCell } from './runtime.js'
import { join } from 'node:path'

const USAGE = `Usage: node dist/child-cell/main.js --cell PATH --role ROLE [options]

Runs one service of one cell (production mode: MariaDB + RabbitMQ), as the production supervisor
(npm run start:production) does for every cell. It needs its own credentials in FEDERATION_*_URL
(or _FILE): database for the conductor and scheduler, broker for every role; the cell's vhost must
hold its exchanges and queues (the supervisor declares them).
  --cell PATH     the cell, e.g. api!region-one!dc1
  --role ROLE     ${CELL_ROLES.join(' | ')}
  --hosts LIST    compute: only these hosts of the cell (comma-separated; default all)
  --metrics-port N  serve Prometheus metrics on GET /metrics at this port (default: none)

${COMMON_HELP}`

async function main(): Promise<void> {
  const values = parseOrExit(process.argv.slice(2), { cell: { type: 'string' }, role: { type: 'string' }, hosts: { type: 'string' }, 'metrics-port': { type: 'string' } }, USAGE, (v) => metricsPortOf(v['metrics-port']))
  if (values === undefined) return
  const cfg = federationConfig('production', values)
  const path = values['cell']
  const role = values['role']
  const cell = allCells(cfg.regions).find((c) => c.path === path)
  if (typeof path !== 'string' || cell === undefined) {
    process.stderr.write(`error: --cell must name a cell of ${cfg.regionsDir}: ${allCells(cfg.regions).map((c) => c.path).join(', ')}\n`)
    process.exit(2)
  }
  if (typeof role !== 'string' || !(CELL_ROLES as readonly string[]).includes(role)) {
    process.stderr.write(`error: --role must be one of ${CELL_ROLES.join(', ')}\n`)
    process.exit(2)
  }
  // A service runs with the credentials it was given (by the supervisor), never the local root ones;
  // compute and the agent hold no database credentials at all.
  requireServiceUrls(cfg.serverUrlSources, role === 'conductor' || role === 'scheduler' ? ['database', 'transport'] : ['transport'])
  const log = createLogger(`${role}`, { cell: cell.path })
  const ep = cellEndpoints(cfg, cell)
  const driver = cfg.driver === 'fake' ? 'fake' : (await libvirtAvailable()) ? 'libvirt' : 'fake'
  if (role === 'compute') log.info({ driver }, 'compute driver')
  const hosts = typeof values['hosts'] === 'string' ? values['hosts'].split(',').filter((h) => h !== '') : undefined
  const rt = await startCell({
    cell,
    roles: [role as CellRole],
    databaseUrl: ep.databaseUrl,
    transportUrl: ep.transportUrl,
    listenAddress: ep.grpcListen,
    children: cell.children.map((c) => ({ path: c.path, address: cellEndpoints(cfg, c).grpcAddress })),
    driver,
    stateDir: join(cfg.stateDir, 'cells', cell.path.replace(/!/g, '.')),
    hostIp: cfg.host,
    timing: cfg.timing,
    scheduler: cfg.scheduler,
    pki: cfg.pki,
    ...(hosts === undefined ? {} : { hosts }),
    // The supervisor (or the operator) declared the vhost's topology; our broker user may not.
    busDeclares: false,
    log,
  })
  const metricsPort = metricsPortOf(values['metrics-port'])
  const metrics = metricsPort === undefined ? undefined : await serveMetrics({ host: cfg.host, port: metricsPort })
  log.info({ role, port: rt.agentPort || undefined, metricsPort: metrics?.port }, 'started')
  stopOnSignals(() => Promise.all([rt.stop(), metrics?.close()]))
}

runMain(main)
