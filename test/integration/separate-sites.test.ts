import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { parse, stringify } from 'yaml'
import type { RelayRoute } from '../../bench/site-relay.js'
import type { Federation } from '../helpers/exactly-once.js'
import { burst, checkInvariants, DEPLOY_LEAVES, reportCensus, settle } from '../helpers/exactly-once.js'
import type { NetSites, StarLayout } from '../helpers/net-sites.js'
import { createStar, starAddress } from '../helpers/net-sites.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor } from '../helpers/os-client.js'
import { dropFederation } from '../helpers/production.js'

const root = resolve(import.meta.dirname, '../..')
const MYSQL = { host: '127.0.0.1', port: 3306 }
const AMQP = { host: '127.0.0.1', port: 5672 }

/** The API cell's site and one site per region of deploy/regions. */
const LAYOUT: StarLayout = { hub: 'api', spokes: ['region-one', 'region-two'], oneWayDelayMs: 25 }
/** How long the region's link stays cut (issue #9: 20 s, mid-burst). */
const CUT_MS = 20_000
/**
 * The API's address in the URLs it hands out (`--public-host`): in each region's namespace a
 * relay listens there and crosses the link to the API's site (with the delay, without netem).
 */
const API_PUBLIC = '10.231.0.1'

/**
 * Issue #9, part 8: a rehearsal of separate sites. The API cell and each region run in their own
 * network namespace, each started on its own by `npm run start:production -- --only ... --setup
 * skip` after one `--setup only`; sites reach each other only over veth links with 50 ms of
 * round trip added, and each reaches MariaDB and RabbitMQ (its "own" servers) over a Unix-socket
 * relay that the cut does not touch. A burst of 20 boots goes out, region-one's link is cut for
 * 20 s in the middle of it, then restored; the exactly-once invariants must hold (the leaves'
 * own databases are the truth): every accepted build ACTIVE or ERROR with a reason, none in two
 * cells, no VM in a leaf that the API shows as ERROR or not at all, the index equal to the leaves.
 */
describe('separate sites: each region in its own network namespace, a link cut mid-burst', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedsites-'))
  const sockets = join(dir, 'sockets')
  const prefix = `fedtest_${Math.random().toString(36).slice(2, 8)}`
  const base = 20000 + Math.floor(Math.random() * 12000)
  const ports = { identity: base, compute: base + 1, image: base + 2, grpcBase: base + 10 }
  /** Where each region's agent binds, in its own namespace, and where the API dials it. */
  const regionPort = (i: number): number => base + 20 + i
  const dialPort = (i: number): number => base + 30 + i
  let net: NetSites | undefined
  const sites: ChildProcess[] = []
  let output = ''
  let admin: Session
  let fed: Federation

  const productionArgs = (): string[] => [
    join(root, 'dist', 'bin', 'production.js'),
    '--state-dir',
    join(dir, 'state'),
    '--regions-dir',
    join(dir, 'regions'),
    '--name-prefix',
    prefix,
    '--identity-port',
    String(ports.identity),
    '--compute-port',
    String(ports.compute),
    '--image-port',
    String(ports.image),
    '--grpc-base-port',
    String(ports.grpcBase),
  ]
  const env = { ...process.env, ADMIN_PASSWORD: 'secret-admin-pw', LOG_LEVEL: process.env['FED_LOG'] ?? 'warn', FEDERATION_REPORT_INTERVAL_MS: '1000' }
  const watch = (name: string, c: ChildProcess): ChildProcess => {
    c.stdout?.on('data', (b: Buffer) => (output += `[${name}] ${b.toString()}`))
    c.stderr?.on('data', (b: Buffer) => (output += `[${name}] ${b.toString()}`))
    return c
  }

  /** deploy/regions without fixed ports; each region's agent bound on its own link, dialled by the API. */
  const writeRegions = (delayBy: NetSites['delayBy']): void => {
    mkdirSync(join(dir, 'regions'), { recursive: true })
    const strip = (c: any): any => {
      delete c.grpc_port
      for (const ch of c.children ?? []) strip(ch)
      return c
    }
    for (const f of readdirSync(join(root, 'deploy', 'regions')).filter((x) => x.endsWith('.yaml'))) {
      const region = strip(parse(readFileSync(join(root, 'deploy', 'regions', f), 'utf8')))
      const i = LAYOUT.spokes.indexOf(region.name)
      expect(i, `a site for region ${region.name}`).toBeGreaterThanOrEqual(0)
      region.grpc_listen = `${starAddress(LAYOUT, region.name)}:${regionPort(i)}`
      // Without netem, the API dials a delaying relay in its own namespace that crosses the link.
      region.grpc_address = delayBy === 'netem' ? region.grpc_listen : `127.0.0.1:${dialPort(i)}`
      writeFileSync(join(dir, 'regions', f), stringify(region))
    }
  }

  const runToEnd = (c: ChildProcess, what: string): Promise<void> =>
    new Promise((ok, fail) => c.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`${what} exited ${String(code)}: ${output}`)))))

  beforeAll(async () => {
    try {
      await startSites()
    } catch (err) {
      throw new Error(`the sites did not start: ${String(err)}\n--- sites' output ---\n${output.slice(-20_000)}`, { cause: err })
    }
  }, 240_000)

  const startSites = async (): Promise<void> => {
    net = await createStar(LAYOUT)
    const n = net
    mkdirSync(sockets, { recursive: true })
    writeRegions(n.delayBy)
    const sock = (name: string): { path: string } => ({ path: join(sockets, `${name}.sock`) })
    const api = Object.values({ identity: ports.identity, compute: ports.compute, image: ports.image })
    // Root namespace: the servers behind Unix sockets, and the API's listeners where a client looks.
    await n.relay(undefined, [
      { listen: sock('mysql'), target: MYSQL },
      { listen: sock('amqp'), target: AMQP },
      ...api.map((p): RelayRoute => ({ listen: { host: '127.0.0.1', port: p }, target: sock(`api-${p}`) })),
    ])
    const servers: RelayRoute[] = [
      { listen: MYSQL, target: sock('mysql') },
      { listen: AMQP, target: sock('amqp') },
    ]
    await n.relay('api', [
      ...servers,
      ...api.map((p): RelayRoute => ({ listen: sock(`api-${p}`), target: { host: '127.0.0.1', port: p } })),
      ...(n.delayBy === 'netem'
        ? []
        : LAYOUT.spokes.map((s, i): RelayRoute => ({
            listen: { host: '127.0.0.1', port: dialPort(i) },
            target: { host: starAddress(LAYOUT, s), port: regionPort(i) },
            delayMs: LAYOUT.oneWayDelayMs,
          }))),
    ])
    for (const s of LAYOUT.spokes) {
      n.addLocalAddress(s, API_PUBLIC)
      await n.relay(s, [
        ...servers,
        ...api.map((p): RelayRoute => ({
          listen: { host: API_PUBLIC, port: p },
          target: { host: starAddress(LAYOUT, s, true), port: p },
          delayMs: n.delayBy === 'netem' ? 0 : LAYOUT.oneWayDelayMs,
        })),
      ])
    }
    // The one-time set-up, where the administrator credentials are (the root namespace).
    await runToEnd(watch('setup', spawn(process.execPath, [...productionArgs(), '--setup', 'only'], { env, stdio: ['ignore', 'pipe', 'pipe'] })), 'setup')
    // Each site alone, on what the set-up left.
    sites.push(watch('site api', n.spawnIn('api', [process.execPath, ...productionArgs(), '--setup', 'skip', '--only', 'api', '--host', '0.0.0.0', '--public-host', API_PUBLIC], env)))
    for (const s of LAYOUT.spokes) {
      sites.push(watch(`site ${s}`, n.spawnIn(s, [process.execPath, ...productionArgs(), '--setup', 'skip', '--only', `api!${s}`], env)))
    }
    const identityUrl = `http://127.0.0.1:${ports.identity}`
    output += '[test] sites started\n'
    await waitFor(
      'the API site',
      async () => {
        for (const c of sites) if (c.exitCode !== null) throw new Error(`a site exited: ${output}`)
        return (await fetch(`${identityUrl}/v3`, { signal: AbortSignal.timeout(5000) })).status === 200 ? true : undefined
      },
      60_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${output}`)
    })
    output += '[test] API up\n'
    admin = await login(identityUrl, 'admin', 'secret-admin-pw', 'admin')
    const computeUrl = `http://127.0.0.1:${ports.compute}/v2.1`
    // Both regions report across their links: every host of deploy/regions is listed, no cell down.
    await waitFor(
      'both regions in service',
      async () => {
        const r = await call(admin, 'GET', `${computeUrl}/os-hypervisors`)
        const names: string[] = (r.body?.hypervisors ?? []).map((h: any) => h.hypervisor_hostname)
        return r.headers.get('x-federation-cells-down') === null && names.includes('r1-dc1-c1') && names.includes('r2-c1') ? true : undefined
      },
      60_000,
    )
    output += '[test] regions up\n'
    // The catalog names the public address, which only the regions reach: the client goes by its relay.
    expect(endpoint(admin, 'image', 'region-one')).toBe(`http://${API_PUBLIC}:${ports.image}`)
    const imageRef = (await call(admin, 'GET', `http://127.0.0.1:${ports.image}/v2/images?name=cirros`)).body.images[0].id as string
    const quota = await call(admin, 'PUT', `${computeUrl}/os-quota-sets/${admin.projectId}`, { quota_set: { instances: 500, cores: 1000, ram: 10_000_000 } })
    expect(quota.status).toBe(200)
    fed = { admin, computeUrl, imageRef, prefix, leaves: DEPLOY_LEAVES }
    process.stdout.write(`separate sites: namespaces ${Object.values(n.ns).join(', ')}; ${LAYOUT.oneWayDelayMs} ms each way between sites by ${n.delayBy}\n`)
  }

  afterAll(async () => {
    await net?.destroy()
    await dropFederation(prefix)
    rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  it('region-one cut off for 20 s mid-burst: found down, reads still answer, and after the link is back every build ended once', async () => {
    const n = net as NetSites
    // What the sites logged (warnings and up), for whoever reads a failure.
    onTestFailed(() => {
      process.stdout.write(`--- sites' output (last 20000 characters) ---\n${output.slice(-20_000)}\n`)
    })
    const accepted = burst(fed, 'sites-cut', 20)
    await new Promise((r) => setTimeout(r, 300))
    const cutAt = Date.now()
    n.setLink('region-one', false)
    let detectedMs: number | undefined
    try {
      // While cut off: the region is found down, and listing answers from the index meanwhile.
      while (Date.now() - cutAt < CUT_MS) {
        const r = await call(admin, 'GET', `${fed.computeUrl}/os-hypervisors`)
        if (detectedMs === undefined && (r.headers.get('x-federation-cells-down') ?? '').includes('api!region-one')) {
          detectedMs = Date.now() - cutAt
          const listed = await call(admin, 'GET', `${fed.computeUrl}/servers/detail`, undefined, { 'openstack-api-version': 'compute 2.69' })
          expect(listed.status).toBe(200)
        }
        await new Promise((r) => setTimeout(r, 250))
      }
    } finally {
      n.setLink('region-one', true)
    }
    const restoredAt = Date.now()
    expect(detectedMs, 'region-one found down while its link was cut').toBeDefined()
    const ids = await accepted
    expect(ids.length).toBeGreaterThan(0)
    await waitFor(
      'region-one back in service',
      async () => ((await call(admin, 'GET', `${fed.computeUrl}/os-hypervisors`)).headers.get('x-federation-cells-down') === null ? true : undefined),
      60_000,
    )
    const backMs = Date.now() - restoredAt
    const servers = await settle(fed, ids)
    const reasons = new Set([...servers.values()].filter((s) => s.status === 'ERROR').map((s) => String(s.fault?.message)))
    if (reasons.size > 0) process.stdout.write(`link-cut: ERROR reasons: ${[...reasons].join(' | ')}\n`)
    const c = await checkInvariants(fed, ids, servers)
    reportCensus('link-cut (separate sites)', c)
    process.stdout.write(`link-cut: region-one found down ${String(detectedMs)} ms after the cut; back in service ${backMs} ms after the link returned\n`)
    // The link came back well within the placement deadline (60 s): no build needed to fail.
    expect(c.error).toBe(0)
  }, 240_000)
})
