#!/usr/bin/env node
import { COMMON_HELP, federationConfig, parseFlags } from '../shared/config/federation.js'
import { allCells } from '../shared/config/regions.js'
import { createLogger } from '../shared/logging.js'
import { metricsPortOf, serveMetrics } from '../shared/metrics/metrics-server.js'
import { startEmbeddedFederation } from './embedded.js'

const USAGE = `Usage: npm start -- [options]

Starts a whole federation in one process: the API cell (identity, compute, image) and every cell
described in deploy/regions/, on SQLite and an in-process bus, cells linked by gRPC over loopback.

  --metrics-port N       serve Prometheus metrics of every service on GET /metrics at this port
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
  const cfg = federationConfig('embedded', values)
  const log = createLogger('federation')
  const fed = await startEmbeddedFederation(cfg, log)
  const metricsPort = metricsPortOf(values['metrics-port'])
  const metrics = metricsPort === undefined ? undefined : await serveMetrics({ host: cfg.host, port: metricsPort })
  const cells = allCells(cfg.regions)
  const hosts = cells.reduce((n, c) => n + c.hosts.length, 0)
  const lines = [
    '',
    `Federation running (embedded: SQLite in ${cfg.stateDir}, in-process bus, gRPC between cells)`,
    `  compute driver: ${fed.driver === 'libvirt' ? "libvirt (libvirt's test driver, one host file per host)" : 'fake (libvirt0 not installed)'}`,
    `  cells: ${cells.map((c) => c.path).join(', ')} (${hosts} compute hosts)`,
    `  identity: ${fed.api.urls.identity}/v3`,
    `  compute:  ${fed.api.urls.compute}/v2.1 (all regions)`,
    ...Object.entries(fed.api.computeUrls).map(([r, u]) => `            ${u} (${r})`),
    `  image:    ${fed.api.urls.image}`,
    `  admin:    user admin, project admin, domain Default, password ${fed.adminPassword}`,
    `  clouds.yaml: ${fed.cloudsYaml} (cloud "federation")`,
    ...(metrics === undefined ? [] : [`  metrics:  http://${cfg.host}:${metrics.port}/metrics`]),
    `    export OS_CLIENT_CONFIG_FILE=${fed.cloudsYaml} OS_CLOUD=federation`,
    `    openstack --os-region-name ${cfg.regions[0]?.name ?? 'region-one'} server create --image cirros --flavor m1.tiny --wait vm1`,
    'Press Ctrl-C to stop.',
    '',
  ]
  process.stdout.write(lines.join('\n') + '\n')
  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    Promise.all([fed.stop(), metrics?.close()]).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'stop failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
}

main().catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
