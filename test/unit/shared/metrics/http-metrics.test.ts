import express from 'express'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import type { CellCapacity } from '../../../../shared/cell-link/types.js'
import { observeCellCapacity, recordBuild } from '../../../../shared/metrics/cell-metrics.js'
import { observeHttp } from '../../../../shared/metrics/http-metrics.js'
import { metricsPortOf, serveMetrics } from '../../../../shared/metrics/metrics-server.js'
import { metricsText, outcomeOf } from '../../../../shared/metrics/registry.js'
import { NotFoundError } from '../../../../shared/errors.js'

/** A one-route express app behind observeHttp, as the API listeners are. */
async function withApp<T>(fn: (url: string, lines: Array<Record<string, unknown>>) => Promise<T>): Promise<T> {
  const app = express()
  const inner = express.Router()
  inner.get('/things/:id', (req, res) => {
    res.setHeader('x-openstack-request-id', 'req-abc')
    if (req.params['id'] === 'bad') throw new NotFoundError('no')
    res.json({ id: req.params['id'] })
  })
  app.use('/v1', inner)
  app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(404).json({})
  })
  const lines: Array<Record<string, unknown>> = []
  const log = { info: (obj: Record<string, unknown>) => lines.push(obj) } as never
  const server = createServer(observeHttp({ listener: 'test', handler: app, log }))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  try {
    return await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, lines)
  } finally {
    server.close()
  }
}

describe('HTTP metrics and access log', () => {
  it('labels requests by route template (never by id), also when the route failed', async () => {
    await withApp(async (url, lines) => {
      await fetch(`${url}/v1/things/42`)
      await fetch(`${url}/v1/things/bad`)
      await fetch(`${url}/nowhere/7`)
      const text = await metricsText()
      expect(text).toContain('federation_http_requests_total{listener="test",method="GET",route="/v1/things/:id",status="200"} 1')
      expect(text).toContain('federation_http_requests_total{listener="test",method="GET",route="/v1/things/:id",status="404"} 1')
      expect(text).toContain('federation_http_requests_total{listener="test",method="GET",route="unmatched",status="404"} 1')
      expect(text).not.toContain('things/42')
      expect(lines[0]).toMatchObject({ requestId: 'req-abc', listener: 'test', method: 'GET', url: '/v1/things/42', status: 200 })
      expect(lines).toHaveLength(3)
    })
  })

  it('masks the signature of a signed URL in the access log', async () => {
    await withApp(async (url, lines) => {
      await fetch(`${url}/v1/things/7?expires=1700000000&signature=0123abcd&x=1`)
      expect(lines[0]?.['url']).toBe('/v1/things/7?expires=1700000000&signature=***&x=1')
      expect(JSON.stringify(lines)).not.toContain('0123abcd')
    })
  })

  it('masks a console token in the path of GET /os-console-auth-tokens/{token}', async () => {
    await withApp(async (url, lines) => {
      await fetch(`${url}/v2.1/os-console-auth-tokens/SeCrEtToKeN_abc-123?x=1`)
      expect(lines[0]?.['url']).toBe('/v2.1/os-console-auth-tokens/***?x=1')
      expect(JSON.stringify(lines)).not.toContain('SeCrEtToKeN')
    })
  })
})

describe('cell metrics', () => {
  const report = (path: string, over: Partial<CellCapacity> = {}): CellCapacity => ({
    path,
    up: true,
    disabled: false,
    hostsUp: 2,
    hostsTotal: 3,
    instances: 5,
    ramFreeMb: 1000,
    ramTotalMb: 2000,
    vcpusFree: 8,
    vcpusTotal: 16,
    diskFreeGb: 50,
    diskTotalGb: 100,
    availabilityZones: [],
    hypervisorTypes: [],
    cpuArchs: [],
    flavorFits: { '1': { count: 7, maxPerHost: 4 } },
    generatedAtMs: Date.now() - 2000,
    aggregate: true,
    ...over,
  })

  it('publishes capacity and report age of the observed cells while observed', async () => {
    const stop = observeCellCapacity(() => [report('api!m1'), report('api!m2', { up: false, disabled: true, generatedAtMs: 0 })])
    const text = await metricsText()
    expect(text).toContain('federation_cell_up{cell="api!m1"} 1')
    expect(text).toContain('federation_cell_up{cell="api!m2"} 0')
    expect(text).toContain('federation_cell_disabled{cell="api!m2"} 1')
    expect(text).toContain('federation_cell_hosts_up{cell="api!m1"} 2')
    expect(text).toContain('federation_cell_free_ram_mb{cell="api!m1"} 1000')
    expect(text).toContain('federation_cell_flavor_fits{cell="api!m1",flavor="1"} 7')
    expect(text).toContain('federation_cell_report_age_seconds{cell="api!m2"} -1')
    const age = Number(/federation_cell_report_age_seconds\{cell="api!m1"\} ([\d.]+)/.exec(text)?.[1])
    expect(age).toBeGreaterThanOrEqual(2)
    stop()
    expect(await metricsText()).not.toContain('cell="api!m1"')
  })

  it('counts builds by result', async () => {
    recordBuild('cell0', Date.now())
    expect(await metricsText()).toMatch(/federation_builds_total\{result="cell0"\} [1-9]/)
  })

  it.each([
    [new NotFoundError('x'), 'not_found'],
    [new Error('boom'), 'internal'],
    ['string', 'internal'],
  ])('names the outcome of %s', (err, outcome) => {
    expect(outcomeOf(err)).toBe(outcome)
  })
})

describe('metrics listener', () => {
  it('serves the registry on GET /metrics with process metrics, and 404 elsewhere', async () => {
    const m = await serveMetrics({ host: '127.0.0.1', port: 0 })
    try {
      const res = await fetch(`http://127.0.0.1:${m.port}/metrics`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toContain('text/plain')
      const text = await res.text()
      expect(text).toContain('process_cpu_user_seconds_total')
      expect(text).toContain('# TYPE federation_http_requests_total counter')
      expect((await fetch(`http://127.0.0.1:${m.port}/other`)).status).toBe(404)
    } finally {
      await m.close()
    }
  })

  it.each([
    [undefined, undefined],
    ['9100', 9100],
    ['0', 0],
  ])('parses --metrics-port %j', (v, port) => {
    expect(metricsPortOf(v)).toBe(port)
  })

  it.each(['abc', '70000', '-1', true])('refuses --metrics-port %j', (v) => {
    expect(() => metricsPortOf(v)).toThrow(/--metrics-port must be a port number/)
  })
})
