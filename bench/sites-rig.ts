import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { packageRoot } from '../shared/paths.js'
import type { NetSites, StarLayout } from './net-sites.js'
import { createStar, starAddress } from './net-sites.js'
import { dropFederation } from './production-rig.js'
import type { RelayRoute } from './site-relay.js'

/**
 * A production federation spread over network namespaces, one per site, as an operator would run
 * it site by site (the separate-sites test and `npm run bench -- sites`): one `--setup only` in the
 * root namespace (where rabbitmqctl and the database administrator are), then per site
 * `npm run start:production -- --setup skip --only ...`. Needs root, iproute2 and `npm run build`.
 *
 * - The API cell's site is the hub; each region of deploy/regions is a spoke, linked to the hub by
 *   a veth pair with `oneWayDelayMs` each way (tc netem, or the relay's delay without sch_netem).
 * - Each region's agent binds its address on its link (`grpc_listen`); the API dials it there
 *   (`grpc_address`, through a delaying relay in the hub without netem).
 * - The API binds every address and hands out {@link API_PUBLIC} (`--public-host`): in each region's
 *   namespace a relay listens there and crosses the link to the hub, for image downloads.
 * - MariaDB and RabbitMQ listen on 127.0.0.1 of the root namespace: every site reaches them at its
 *   own 127.0.0.1 through a Unix-socket relay, which a cut link does not touch (a site keeps its
 *   own servers). The API's listeners are relayed to 127.0.0.1 of the root namespace for clients.
 */
export interface SitesRig {
  readonly net: NetSites
  readonly prefix: string
  readonly identityUrl: string
  /** The global compute endpoint, as a client in the root namespace reaches it. */
  readonly computeUrl: string
  readonly imageUrl: string
  /** What the sites printed (warnings and up unless `FED_LOG` says otherwise). */
  output(): string
  /** Stops every site and relay, deletes the namespaces, drops the federation's schemas and vhosts. */
  destroy(): Promise<void>
}

/** The API's advertised address, served in each region's namespace by a relay to the hub. */
export const API_PUBLIC = '10.231.0.1'
/** The admin password the rig's federation gets. */
export const RIG_ADMIN_PASSWORD = 'secret-admin-pw'
/** The API cell's site and one site per region of deploy/regions, 50 ms of round trip between sites. */
export const SITES_LAYOUT: StarLayout = { hub: 'api', spokes: ['region-one', 'region-two'], oneWayDelayMs: 25 }

const MYSQL = { host: '127.0.0.1', port: 3306 }
const AMQP = { host: '127.0.0.1', port: 5672 }

/** Starts the sites and waits until the API answers and both regions report across their links. */
export async function startSites(layout: StarLayout = SITES_LAYOUT, env: NodeJS.ProcessEnv = process.env): Promise<SitesRig> {
  const root = packageRoot()
  const dir = mkdtempSync(join(tmpdir(), 'fedsites-'))
  const sockets = join(dir, 'sockets')
  const prefix = `fedtest_${Math.random().toString(36).slice(2, 8)}`
  // Below the kernel's ephemeral range (32768+), where outgoing connections would collide.
  const base = 20000 + Math.floor(Math.random() * 12000)
  const ports = { identity: base, compute: base + 1, image: base + 2, network: base + 5, grpcBase: base + 10 }
  const apiPorts = [ports.identity, ports.compute, ports.image]
  const regionPort = (i: number): number => base + 20 + i
  const dialPort = (i: number): number => base + 30 + i
  let output = ''
  const procEnv = { ...env, ADMIN_PASSWORD: RIG_ADMIN_PASSWORD, LOG_LEVEL: env['FED_LOG'] ?? 'warn', FEDERATION_REPORT_INTERVAL_MS: '1000' }
  const watch = (name: string, c: ChildProcess): ChildProcess => {
    c.stdout?.on('data', (b: Buffer) => (output += `[${name}] ${b.toString()}`))
    c.stderr?.on('data', (b: Buffer) => (output += `[${name}] ${b.toString()}`))
    return c
  }
  const args = [
    join(root, 'dist', 'bin', 'production.js'),
    ...['--state-dir', join(dir, 'state'), '--regions-dir', join(dir, 'regions'), '--name-prefix', prefix],
    ...['--identity-port', String(ports.identity), '--compute-port', String(ports.compute), '--image-port', String(ports.image), '--network-port', String(ports.network)],
    ...['--grpc-base-port', String(ports.grpcBase)],
  ]
  let net: NetSites | undefined
  const destroy = async (): Promise<void> => {
    await net?.destroy()
    await dropFederation(prefix)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    net = await createStar(layout)
    const n = net
    mkdirSync(sockets, { recursive: true })
    writeRegions(root, join(dir, 'regions'), layout, (name) => {
      const i = layout.spokes.indexOf(name)
      if (i < 0) throw new Error(`no site for region ${name} of deploy/regions`)
      const listen = `${starAddress(layout, name)}:${regionPort(i)}`
      return { listen, address: n.delayBy === 'netem' ? listen : `127.0.0.1:${dialPort(i)}` }
    })
    const sock = (name: string): { path: string } => ({ path: join(sockets, `${name}.sock`) })
    await n.relay(undefined, [
      { listen: sock('mysql'), target: MYSQL },
      { listen: sock('amqp'), target: AMQP },
      ...apiPorts.map((p): RelayRoute => ({ listen: { host: '127.0.0.1', port: p }, target: sock(`api-${p}`) })),
    ])
    const servers: RelayRoute[] = [
      { listen: MYSQL, target: sock('mysql') },
      { listen: AMQP, target: sock('amqp') },
    ]
    const delayMs = n.delayBy === 'netem' ? 0 : layout.oneWayDelayMs
    await n.relay(layout.hub, [
      ...servers,
      ...apiPorts.map((p): RelayRoute => ({ listen: sock(`api-${p}`), target: { host: '127.0.0.1', port: p } })),
      ...(delayMs === 0 ? [] : layout.spokes.map((s, i): RelayRoute => ({ listen: { host: '127.0.0.1', port: dialPort(i) }, target: { host: starAddress(layout, s), port: regionPort(i) }, delayMs }))),
    ])
    for (const s of layout.spokes) {
      n.addLocalAddress(s, API_PUBLIC)
      await n.relay(s, [...servers, ...apiPorts.map((p): RelayRoute => ({ listen: { host: API_PUBLIC, port: p }, target: { host: starAddress(layout, s, true), port: p }, delayMs }))])
    }
    // The one-time set-up, where the administrator credentials are (the root namespace).
    const setup = watch('setup', spawn(process.execPath, [...args, '--setup', 'only'], { env: procEnv, stdio: ['ignore', 'pipe', 'pipe'] }))
    await new Promise<void>((ok, fail) => setup.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`--setup only exited ${String(code)}`)))))
    // Each site alone, on what the set-up left.
    const sites = [watch('site api', n.spawnIn(layout.hub, [process.execPath, ...args, '--setup', 'skip', '--only', 'api', '--host', '0.0.0.0', '--public-host', API_PUBLIC], procEnv))]
    for (const s of layout.spokes) sites.push(watch(`site ${s}`, n.spawnIn(s, [process.execPath, ...args, '--setup', 'skip', '--only', `api!${s}`], procEnv)))
    const identityUrl = `http://127.0.0.1:${ports.identity}`
    const computeUrl = `http://127.0.0.1:${ports.compute}/v2.1`
    await until('the API site', 180_000, async () => {
      for (const c of sites) if (c.exitCode !== null) throw new Error('a site exited')
      return (await fetch(`${identityUrl}/v3`, { signal: AbortSignal.timeout(5000) })).status === 200
    })
    const { token } = await adminToken(identityUrl)
    // Both regions report across their links: a host of each is listed, no cell down.
    await until('both regions in service', 180_000, async () => {
      const r = await fetch(`${computeUrl}/os-hypervisors`, { headers: { 'x-auth-token': token }, signal: AbortSignal.timeout(5000) })
      const body = (await r.json()) as { hypervisors?: Array<{ hypervisor_hostname: string }> }
      const names = (body.hypervisors ?? []).map((h) => h.hypervisor_hostname)
      return r.headers.get('x-federation-cells-down') === null && names.includes('r1-dc1-c1') && names.includes('r2-c1')
    })
    return { net: n, prefix, identityUrl, computeUrl, imageUrl: `http://127.0.0.1:${ports.image}`, output: () => output, destroy }
  } catch (err) {
    await destroy().catch(() => undefined)
    throw new Error(`the sites did not start: ${err instanceof Error ? err.message : String(err)}\n--- sites' output ---\n${output.slice(-20_000)}`, { cause: err })
  }
}

/** deploy/regions without fixed ports, each region's agent bound and dialled where `where` says. */
function writeRegions(root: string, out: string, layout: StarLayout, where: (region: string) => { listen: string; address: string }): void {
  mkdirSync(out, { recursive: true })
  const strip = (c: any): any => {
    delete c.grpc_port
    for (const ch of c.children ?? []) strip(ch)
    return c
  }
  for (const f of readdirSync(join(root, 'deploy', 'regions')).filter((x) => x.endsWith('.yaml'))) {
    const region = strip(parse(readFileSync(join(root, 'deploy', 'regions', f), 'utf8')))
    if (!layout.spokes.includes(region.name)) throw new Error(`no site for region ${String(region.name)}`)
    const w = where(region.name)
    region.grpc_listen = w.listen
    region.grpc_address = w.address
    writeFileSync(join(out, f), stringify(region))
  }
}

/** A token of the rig's admin, scoped to project admin, and that project's id. */
export async function adminToken(identityUrl: string): Promise<{ token: string; projectId: string }> {
  const res = await fetch(`${identityUrl}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'admin', password: RIG_ADMIN_PASSWORD, domain: { id: 'default' } } } },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    }),
  })
  const text = await res.text()
  if (res.status !== 201) throw new Error(`admin login failed: ${res.status}`)
  const body = JSON.parse(text) as { token: { project: { id: string } } }
  return { token: res.headers.get('x-subject-token') ?? '', projectId: body.token.project.id }
}

async function until(what: string, timeoutMs: number, cond: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      if (await cond()) return
    } catch (err) {
      last = err
      if (err instanceof Error && err.message === 'a site exited') throw err
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}
