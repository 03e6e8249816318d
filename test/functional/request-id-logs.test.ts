import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import { startEmbeddedFederation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { metricsText } from '../../shared/metrics/registry.js'
import { embeddedConfig, removeDir } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

type Line = Record<string, unknown> & { msg: string }

/**
 * Operability of a boot: one grep for the request id of `POST /servers` follows it from the API
 * through every cell to the compute host, and the metrics count it.
 */
describe('embedded federation: request ids in logs, and metrics', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  const raw: string[] = []
  let requestId = ''
  let host = ''

  beforeAll(async () => {
    cfg = embeddedConfig()
    const log = pino({ level: 'info' }, { write: (s: string) => void raw.push(s) })
    fed = await startEmbeddedFederation(cfg, log)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('follows a boot by its request id from the API through region-one and its leaf to compute', async () => {
    const r1 = endpoint(admin, 'compute', 'region-one')
    const images = await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)
    const res = await call(admin, 'POST', `${r1}/servers`, { server: { name: 'traced', imageRef: images.body.images[0].id, flavorRef: '1' } })
    expect(res.status).toBe(202)
    requestId = res.headers.get('x-openstack-request-id') ?? ''
    expect(requestId).toMatch(/^req-[0-9a-f-]{36}$/)
    const server = await waitForStatus(admin, r1, res.body.server.id, 'ACTIVE')
    host = server['OS-EXT-SRV-ATTR:host'] as string
    const leaf = `api!region-one!${host.split('-')[1] ?? ''}`
    // One grep: every JSON line that mentions the id.
    const grep = (): Line[] => raw.filter((l) => l.includes(requestId)).map((l) => JSON.parse(l) as Line)
    const from = (lines: Line[], want: Record<string, unknown>): Line | undefined =>
      lines.find((l) => Object.entries(want).every(([k, v]) => l[k] === v))
    const lines = await waitFor('the spawn line', async () => {
      const ls = grep()
      return from(ls, { service: 'compute', host }) === undefined ? undefined : ls
    })
    expect(lines.every((l) => l['requestId'] === requestId)).toBe(true)
    expect(from(lines, { cell: 'api', service: 'access', method: 'POST', status: 202 })).toBeDefined()
    expect(from(lines, { service: 'global-scheduler', msg: 'build placed' })).toMatchObject({ host })
    expect(from(lines, { cell: 'api!region-one', service: 'cell-agent', msg: 'build accepted below' })).toMatchObject({ placedIn: leaf })
    expect(from(lines, { cell: leaf, service: 'cell-agent', msg: 'build accepted by this cell' })).toBeDefined()
    expect(from(lines, { cell: leaf, service: 'conductor' })).toMatchObject({ host })
    expect(from(lines, { cell: leaf, service: 'scheduler' })).toMatchObject({ host })
    expect(from(lines, { cell: leaf, service: 'compute', host, msg: 'instance spawned' })).toBeDefined()
  })

  it('counts the boot in the metrics: API route, build result, gRPC and bus calls, cell capacity', async () => {
    expect(requestId).not.toBe('')
    const text = await metricsText()
    const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 'NaN')
    expect(value(/federation_http_requests_total\{listener="compute",method="POST",route="\/regions\/region-one\/v2\.1\/servers",status="202"\} (\d+)/)).toBeGreaterThanOrEqual(1)
    expect(value(/federation_builds_total\{result="placed"\} (\d+)/)).toBeGreaterThanOrEqual(1)
    expect(value(/federation_grpc_client_calls_total\{method="Build",outcome="ok"\} (\d+)/)).toBeGreaterThanOrEqual(2)
    expect(value(/federation_bus_messages_sent_total\{kind="call",topic="conductor",method="build_instance",outcome="ok"\} (\d+)/)).toBeGreaterThanOrEqual(1)
    expect(value(/federation_bus_messages_handled_total\{topic="compute",method="build_and_run_instance",outcome="ok"\} (\d+)/)).toBeGreaterThanOrEqual(1)
    expect(value(/federation_cell_hosts_total\{cell="api!region-one"\} (\d+)/)).toBe(8)
    expect(value(/federation_cell_up\{cell="api!region-two"\} (\d+)/)).toBe(1)
    await waitFor('outbox lag of the leaf', async () => (/federation_outbox_pending_events\{cell="api!region-two"\} \d+/.test(await metricsText()) ? true : undefined), 15_000)
  })
})
