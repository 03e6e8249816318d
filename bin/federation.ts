#!/usr/bin/env node
import { adminPasswordHint, COMMON_HELP, federationConfig } from '../shared/config/federation.js'
import { allCells, FEDERATION_REGION } from '../shared/config/regions.js'
import { libvirtUnavailableReason } from '../child-cell/compute/virt/create-driver.js'
import { parseOrExit, runMain, stopOnSignals } from '../shared/cli/process-main.js'
import { createLogger } from '../shared/logging.js'
import { metricsPortOf, serveMetrics } from '../shared/metrics/metrics-server.js'
import cluster from 'node:cluster'
import type { ApiRuntime } from '../api-cell/runtime.js'
import { startApi } from '../api-cell/runtime.js'
import { runApiWorkers } from '../api-cell/api-workers.js'
import type { FederationConfig } from '../shared/config/federation.js'
import { adminPasswordFor } from '../shared/config/federation.js'
import type { Logger } from '../shared/logging.js'
import { embeddedApiArgs, startEmbeddedCells, startEmbeddedFederation, writeCloudsYaml } from './embedded.js'

const USAGE = `Usage: npm start -- [options]

Starts a whole federation in one process: the API cell (identity, compute, image) and every cell
described in deploy/regions/, on SQLite and an in-process bus, cells linked by gRPC over loopback.

  --metrics-port N       serve Prometheus metrics of every service on GET /metrics at this port
${COMMON_HELP}`

async function main(): Promise<void> {
  const values = parseOrExit(process.argv.slice(2), { 'metrics-port': { type: 'string' } }, USAGE, (v) => metricsPortOf(v['metrics-port']))
  if (values === undefined) return
  const cfg = federationConfig('embedded', values)
  const log = createLogger('federation')
  if (cfg.apiWorkers > 1) {
    await withApiWorkers(cfg, values, log)
    return
  }
  const fed = await startEmbeddedFederation(cfg, log)
  const metricsPort = metricsPortOf(values['metrics-port'])
  const metrics = metricsPort === undefined ? undefined : await serveMetrics({ host: cfg.host, port: metricsPort })
  const cells = allCells(cfg.regions)
  const hosts = cells.reduce((n, c) => n + c.hosts.length, 0)
  const lines = [
    '',
    `Federation running (embedded: SQLite in ${cfg.stateDir}, in-process bus, gRPC between cells)`,
    `  compute driver: ${fed.driver === 'libvirt' ? "libvirt (libvirt's test driver, one host file per host)" : await fakeDriverNote(cfg.driver)}`,
    `  cells: ${cells.map((c) => c.path).join(', ')} (${hosts} compute hosts)`,
    `  identity: ${fed.api.urls.identity}/v3`,
    ...Object.entries(fed.api.computeUrls).map(([r, u], i) => `  ${i === 0 ? 'compute: ' : '         '} ${u} (region ${r}${r === FEDERATION_REGION ? ': every region' : ''})`),
    `  image:    ${fed.api.urls.image}`,
    `  network:  ${fed.api.urls.network}`,
    ...Object.entries(fed.api.consoleUrls).map(([r, u], i) => `  ${i === 0 ? 'consoles:' : '         '} ${u} (console proxy of region ${r})`),
    ...Object.entries(fed.api.metadataUrls).map(([r, u], i) => `  ${i === 0 ? 'metadata:' : '         '} ${u} (metadata API of region ${r})`),
    `  dashboard: ${fed.api.urls.compute}/dashboard/`,
    `  admin:    user admin, project admin, domain Default, password ${adminPasswordHint(cfg)}`,
    `  clouds.yaml: ${fed.cloudsYaml} (cloud "federation")`,
    ...(metrics === undefined ? [] : [`  metrics:  http://${cfg.host}:${metrics.port}/metrics`]),
    `    export OS_CLIENT_CONFIG_FILE=${fed.cloudsYaml} OS_CLOUD=federation`,
    `    openstack server create --image cirros --flavor m1.tiny --wait vm1`,
    `    openstack --os-region-name ${cfg.regions[0]?.name ?? 'region-one'} server list`,
    'Press Ctrl-C to stop.',
    '',
  ]
  process.stdout.write(lines.join('\n') + '\n')
  stopOnSignals(
    () => Promise.all([fed.stop(), metrics?.close()]),
    (signal) => log.info({ signal }, 'stopping'),
  )
}

/** Why the hosts run on the fake driver, and how to get libvirt's test driver instead. */
/** Where API workers find the cells' agents (cell path -> gRPC port): set by the primary, not a user setting. */
const CELL_PORTS_ENV = 'CELLS_INTERNAL_EMBEDDED_CELL_PORTS'

/**
 * `npm start -- --workers N`: this process (the cluster primary) runs every cell; N API worker
 * processes (api-cell/api-workers.ts) share the API's listening sockets and the API's SQLite
 * files, and reach the cells over their gRPC links as the one API process does.
 */
async function withApiWorkers(cfg: FederationConfig, values: Record<string, string | boolean | undefined>, log: Logger): Promise<void> {
  if (cluster.isWorker) {
    const ports = new Map(Object.entries(JSON.parse(process.env[CELL_PORTS_ENV] ?? '{}') as Record<string, number>))
    const api = await runApiWorkers({
      workers: cfg.apiWorkers,
      log,
      start: async (forwardBuilds) => {
        const rt = await startApi({ ...embeddedApiArgs(cfg, ports, log), ...(forwardBuilds === undefined ? {} : { forwardBuilds }) })
        return { queue: rt.dispatcher, info: { urls: rt.urls, computeUrls: rt.computeUrls }, stop: rt.stop }
      },
    })
    stopOnSignals(() => api.stop())
    return
  }
  const cells = await startEmbeddedCells(cfg, log)
  process.env[CELL_PORTS_ENV] = JSON.stringify(Object.fromEntries(cells.ports))
  let api
  try {
    api = await runApiWorkers({ workers: cfg.apiWorkers, log, start: () => Promise.reject(new Error('the primary serves no API')) })
  } catch (err) {
    await cells.stop()
    throw err
  }
  const { urls, computeUrls } = api.info as { urls: ApiRuntime['urls']; computeUrls: ApiRuntime['computeUrls'] }
  const metricsPort = metricsPortOf(values['metrics-port'])
  const metrics = metricsPort === undefined ? undefined : await serveMetrics({ host: cfg.host, port: metricsPort })
  const cloudsYaml = writeCloudsYaml(cfg, urls.identity, adminPasswordFor(cfg))
  process.stdout.write(
    [
      '',
      `Federation running (embedded: SQLite in ${cfg.stateDir}, in-process bus, gRPC between cells; ${cfg.apiWorkers} API workers)`,
      `  identity: ${urls.identity}/v3`,
      ...Object.entries(computeUrls).map(([r, u], i) => `  ${i === 0 ? 'compute: ' : '         '} ${u} (region ${r})`),
      `  image:    ${urls.image}`,
      `  network:  ${urls.network}`,
      `  admin:    user admin, project admin, domain Default, password ${adminPasswordHint(cfg)}`,
      `  clouds.yaml: ${cloudsYaml} (cloud "federation")`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  )
  stopOnSignals(
    async () => {
      await api.stop()
      await Promise.all([cells.stop(), metrics?.close()])
    },
    (signal) => log.info({ signal }, 'stopping'),
  )
}

async function fakeDriverNote(asked: string): Promise<string> {
  if (asked === 'fake') return 'fake (--driver fake)'
  const reason = (await libvirtUnavailableReason()) ?? 'unknown'
  return (
    `fake: libvirt is not available here (${reason}).\n` +
    '    For libvirt\'s test driver: apt-get install libvirt0 libvirt-dev pkg-config, then npm install.'
  )
}

runMain(main)
