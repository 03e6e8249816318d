import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProductionFederation } from '../helpers/production.js'
import { startProduction } from '../helpers/production.js'
import { waitFor } from '../helpers/os-client.js'

const BIN = resolve(import.meta.dirname, '../../dist/bin/cellctl.js')

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * `cellctl` against the production federation (one process per service, MariaDB, RabbitMQ): the
 * admin API crosses real processes, `db sync` works on MariaDB, and every process serves metrics.
 */
describe('cellctl against a production federation', () => {
  let fed: ProductionFederation
  let env: Record<string, string>
  const home = mkdtempSync(join(tmpdir(), 'cellctl-prod-'))
  const metricsBase = 41000 + Math.floor(Math.random() * 8000)

  const cellctl = (args: readonly string[]): Promise<Run> =>
    new Promise((done) => {
      execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: home, ...env }, cwd: home }, (err, stdout, stderr) => {
        done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
      })
    })
  const json = async (args: readonly string[]): Promise<any> => {
    const r = await cellctl([...args, '--format', 'json'])
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout)
  }
  const metricsOf = async (processName: string): Promise<string> => {
    const targets = JSON.parse(readFileSync(join(fed.stateDir, 'prometheus-targets.json'), 'utf8')) as Array<{ targets: string[]; labels: { process: string } }>
    const t = targets.find((x) => x.labels.process === processName)
    expect(t, processName).toBeDefined()
    return (await fetch(`http://${t?.targets[0] ?? ''}/metrics`)).text()
  }

  beforeAll(async () => {
    fed = await startProduction({ args: ['--metrics-base-port', String(metricsBase)] })
    env = { OS_CLIENT_CONFIG_FILE: join(fed.stateDir, 'clouds.yaml'), OS_CLOUD: 'federation' }
    await waitFor(
      'every cell up',
      async () => {
        const r = await cellctl(['cell', 'list', '--format', 'json'])
        return r.code === 0 && JSON.parse(r.stdout).cells.every((c: any) => c.state === 'up') ? true : undefined
      },
      60_000,
    )
  }, 150_000)

  afterAll(async () => {
    await fed?.stop()
  }, 60_000)

  it('lists the cells and hosts, and shows capacity, across processes', async () => {
    const { cells } = await json(['cell', 'list'])
    expect(cells.map((c: any) => [c.path, c.state, c.hosts_total])).toEqual([
      ['api!region-one', 'up', 8],
      ['api!region-one!dc1', 'up', 4],
      ['api!region-one!dc2', 'up', 4],
      ['api!region-two', 'up', 4],
    ])
    const tree = await cellctl(['cell', 'tree'])
    expect(tree.stdout).toMatch(/│ ├─ dc1\s+│ region-one\s+│ up\s+│ 4\/4/)
    const hosts = await json(['host', 'list', '--cell', 'api!region-two'])
    expect(hosts.hosts.map((h: any) => h.host).sort()).toEqual(['r2-c1', 'r2-c2', 'r2-c3', 'r2-c4'])
    const cap = await json(['capacity', '--flavor', 'm1.tiny'])
    expect(cap.cells.find((c: any) => c.path === 'api!region-two').fits['m1.tiny']).toBeGreaterThan(0)
  })

  it('disables and enables a region through its agent process, and refuses to delete a cell with hosts', async () => {
    const off = await json(['cell', 'disable', 'api!region-two', '--reason', 'maintenance'])
    expect(off.cell.state).toBe('disabled')
    expect(off.warnings).toEqual([])
    const on = await json(['cell', 'enable', 'api!region-two'])
    expect(on.cell.state).toBe('up')
    const del = await cellctl(['cell', 'delete', 'api!region-one!dc1'])
    expect(del.code).toBe(1)
    expect(del.stderr).toMatch(/^cellctl: error: Cell api!region-one!dc1 still has 4 compute host\(s\)/)
  })

  it('syncs a cell schema on MariaDB from the config', async () => {
    const r = await json(['db', 'sync', '--cell', 'api!region-two', '--name-prefix', fed.prefix, '--regions-dir', join(fed.stateDir, '..', 'regions')])
    expect(r.databases).toHaveLength(1)
    expect(r.databases[0]).toMatchObject({ database: 'api!region-two', applied: [] })
    expect(r.databases[0].url).toContain(`${fed.prefix}_api__region_two`)
  })

  it('serves Prometheus metrics from every process', async () => {
    const api = await metricsOf('api')
    expect(api).toMatch(/federation_cell_up\{cell="api!region-two"\} 1/)
    expect(api).toMatch(/federation_http_requests_total\{listener="compute",method="GET",route="\/cell-admin\/v1\/cells",status="200"\} [1-9]/)
    expect(api).toMatch(/federation_grpc_client_calls_total\{method="CellAdmin",outcome="ok"\} [1-9]/)
    await waitFor('outbox metrics of the region-two agent', async () =>
      /federation_outbox_pending_events\{cell="api!region-two"\} \d+/.test(await metricsOf('agent@api!region-two')) ? true : undefined,
    )
    const conductor = await metricsOf('conductor@api!region-two')
    expect(conductor).toMatch(/federation_bus_messages_handled_total\{topic="conductor",method="service_heartbeat",outcome="ok"\} [1-9]/)
    expect(conductor).toContain('process_cpu_user_seconds_total')
  })
})
