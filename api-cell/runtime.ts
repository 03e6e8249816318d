import { randomBytes } from 'node:crypto'
import { readFileSync, existsSync } from 'node:fs'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import { join } from 'node:path'
import express from 'express'
import type { Kysely } from 'kysely'
import type { PkiSettings } from '../shared/cell-link/cell-tls.js'
import { CellTls } from '../shared/cell-link/cell-tls.js'
import { systemContext } from '../shared/context.js'
import type { Database } from '../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../shared/db/database.js'
import { AppError } from '../shared/errors.js'
import { ensurePrivateDir, tightenFile, writePrivateFile } from '../shared/fs/private-files.js'
import { answerClientErrors } from '../shared/http/client-errors.js'
import type { Logger } from '../shared/logging.js'
import { observeCellCapacity } from '../shared/metrics/cell-metrics.js'
import { observeHttp } from '../shared/metrics/http-metrics.js'
import { createCellRanker } from '../shared/scheduling/cell-ranking.js'
import type { SchedulerConfig } from '../shared/config/scheduler-config.js'
import { cellPluginsOf, DEFAULT_SCHEDULER_CONFIG } from '../shared/config/scheduler-config.js'
import { FEDERATION_REGION } from '../shared/config/regions.js'
import type { Cell0Schema } from './cells/cell0.js'
import { Cell0Store, cell0Migrations } from './cells/cell0.js'
import { API_PATH, CellTree } from './cells/cell-tree.js'
import { computeApp } from './compute/app.js'
import { faultBody } from './compute/faults.js'
import type { ImageLookup } from './compute/deps.js'
import { seedFlavors } from './compute/flavors/flavor-store.js'
import { InstanceLocator } from './compute/servers/locator.js'
import { consoleMigrations } from './consoles/console-tokens.js'
import { startRegionConsoleProxies } from './consoles/region-proxies.js'
import { startRegionMetadataServers } from './metadata/region-listeners.js'
import { computeMigrations } from './db/compute-migrations.js'
import type { ApiSchema } from './db/schema.js'
import { authMiddleware } from './identity/auth.js'
import { keystoneFaultBody } from './identity/http-errors.js'
import { bootstrapIdentity } from './identity/bootstrap.js'
import { identityMigrations } from './identity/migrations.js'
import { KyselyRevocationStore } from './identity/revocation-store.js'
import { identityRouter } from './identity/router.js'
import { TokenService } from './identity/tokens.js'
import { FileUrlSigner, fileUrlKey } from './image/file-url-signer.js'
import { snapshotImages } from './image/snapshot-images.js'
import { imageMigrations } from './image/migrations.js'
import { imageRouter } from './image/router.js'
import { ImageService } from './image/store.js'
import { ADMIN_API_PREFIX, adminRouter, isAdminRequestLine } from './admin/admin-router.js'
import { DASHBOARD_PREFIX, dashboardRouter } from './dashboard/dashboard-router.js'
import { BuildLog } from './scheduler/build-log.js'
import { syncDisabledFlags } from './admin/disabled-sync.js'
import type { BuildQueue } from './scheduler/build-dispatcher.js'
import { BuildDispatcher } from './scheduler/build-dispatcher.js'
import { CrossCellMoves } from './compute/cross-cell/saga.js'
import type { CrossCellRule } from './compute/cross-cell/targets.js'
import type { AddressLookup } from '../shared/network/network-info.js'
import { targetRanker } from './compute/cross-cell/targets.js'
import { UnshelveMover } from './scheduler/unshelve-mover.js'
import { groupMembersLookup } from './scheduler/group-members.js'
import { networkMigrations } from './network/migrations.js'
import { floatingIpMigrations } from './network/floating-ips/migrations.js'
import { securityGroupMigrations } from './network/security-groups/migrations.js'
import { followServers, startNetworkRuntime } from './network-runtime.js'

/** One cell of the tree as the API cell registers it. */
export interface CellRegistration {
  readonly path: string
  readonly name: string
  readonly parentPath: string
  readonly region: string
  /** gRPC address (direct children of the API cell must have one). */
  readonly grpcAddress: string | null
  readonly databaseUrl: string | null
  readonly transportUrl: string | null
  readonly weightOffset: number
  readonly hosts: readonly string[]
}

/** What the API cell needs to run. */
export interface ApiRuntimeArgs {
  readonly apiDatabaseUrl: string
  readonly cell0DatabaseUrl: string
  readonly stateDir: string
  readonly host: string
  /** `network`: the Neutron listener (absent: any free port). */
  readonly ports: { readonly identity: number; readonly compute: number; readonly image: number; readonly network?: number }
  /**
   * Remote consoles: one console proxy per region, the first on `port` and the next ones after it
   * (0: free ports), tokens valid `tokenTtlMs`. Absent: no proxies, console requests are 400.
   */
  readonly console?: { readonly port: number; readonly tokenTtlMs: number }
  /**
   * The metadata API (Nova's port 8775): one listener per region, the first on `port` and the next
   * ones after it (0: free ports); `proxySecret` lets Neutron's metadata proxy forward requests.
   * Absent: no metadata API.
   */
  readonly metadata?: { readonly port: number; readonly proxySecret?: string }
  /** Who holds a fixed address, for the metadata API; absent: the network service's ports (tests may fake it). */
  readonly addressLookup?: AddressLookup
  /** The advertised host in URLs (default: `host`). */
  readonly publicHost?: string
  readonly regions: readonly string[]
  /** Cells to (re-)register at start-up: the tree from deploy/regions with current addresses. */
  readonly cells: readonly CellRegistration[]
  readonly adminPassword: string
  readonly downAfterMs: number
  /** Period of the index anti-entropy pass over the regions (0 or absent: none). */
  readonly antiEntropyIntervalMs?: number
  readonly maxCellAttempts: number
  /** How long one build may be placed for (the dispatcher's `placementDeadlineMs`, default 60 s). */
  readonly placementDeadlineMs?: number
  /** Cell filters and weighers of the global scheduler (default: the built-in lists). */
  readonly scheduler?: SchedulerConfig
  /** Who may have a resize or cold migration fall back to another cell (default `nobody`, as Nova). */
  readonly crossCellRule?: CrossCellRule
  /** Where the API cell finds its certificate (cell path `api`) for mutual TLS to the regions. */
  readonly pki: PkiSettings
  readonly log: Logger
  /**
   * API workers (`--workers`): where this process hands accepted builds when another worker
   * dispatches them. Absent: this process dispatches (and re-drives pending builds at start).
   */
  readonly forwardBuilds?: BuildQueue
}

/** A running API cell. */
export interface ApiRuntime {
  readonly urls: { readonly identity: string; readonly compute: string; readonly image: string; readonly network: string }
  /** Compute endpoint per Keystone region: the federation-wide region (global `/v2.1`) first. */
  readonly computeUrls: Readonly<Record<string, string>>
  /** The console proxy of each region (`http://host:port`); empty without consoles. */
  readonly consoleUrls: Readonly<Record<string, string>>
  /** The metadata API of each region (`http://host:port`); empty without it. */
  readonly metadataUrls: Readonly<Record<string, string>>
  readonly tree: CellTree
  readonly dispatcher: BuildDispatcher
  /** Cross-cell moves (cellctl cell drain and tests wait on them). */
  readonly crossCell: CrossCellMoves
  readonly db: Kysely<ApiSchema>
  stop(): Promise<void>
}

/** Every migration of the API database (identity, image, compute), as `cellctl db sync --api` runs them too. */
export const API_MIGRATIONS = { ...identityMigrations, ...imageMigrations, ...computeMigrations, ...consoleMigrations, ...networkMigrations, ...securityGroupMigrations, ...floatingIpMigrations }

/** The token signing key, kept in the state directory so tokens survive a restart. */
function tokenSecret(stateDir: string): Buffer {
  const path = join(stateDir, 'token-secret')
  ensurePrivateDir(stateDir)
  if (existsSync(path)) {
    tightenFile(path)
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64')
  }
  const secret = randomBytes(32)
  writePrivateFile(path, secret.toString('base64'))
  return secret
}

/** How often the token service re-reads revocation events from the API database. */
const REVOCATION_REFRESH_MS = 5000

/** How long the image download URL of a build stays valid (reschedules and re-driven builds reuse it). */
const IMAGE_URL_TTL_MS = 24 * 3600_000
/** How long a compute host may take to store a snapshot with its signed, single-use upload URL. */
const SNAPSHOT_URL_TTL_MS = 6 * 3600_000

/** Registers (or updates the address of) every cell of the configured tree, and its hosts. */
export async function syncCells(db: Kysely<ApiSchema>, cells: readonly CellRegistration[]): Promise<void> {
  const now = Date.now()
  for (const c of cells) {
    const existing = await db.selectFrom('cells').select('uuid').where('path', '=', c.path).executeTakeFirst()
    if (existing === undefined) {
      await db
        .insertInto('cells')
        .values({
          uuid: crypto.randomUUID(),
          name: c.name,
          path: c.path,
          parent_path: c.parentPath,
          region: c.region,
          grpc_address: c.grpcAddress,
          database_url: c.databaseUrl,
          transport_url: c.transportUrl,
          disabled: 0,
          disabled_reason: null,
          weight_offset: c.weightOffset,
          event_cursor: 0,
          created_at: now,
          updated_at: now,
        })
        .execute()
    } else {
      await db
        .updateTable('cells')
        .set({ grpc_address: c.grpcAddress, database_url: c.databaseUrl, transport_url: c.transportUrl, updated_at: now })
        .where('path', '=', c.path)
        .execute()
    }
    for (const host of c.hosts) {
      const m = await db.selectFrom('host_mappings').select('host').where('host', '=', host).executeTakeFirst()
      if (m === undefined) await db.insertInto('host_mappings').values({ host, cell_path: c.path, created_at: now }).execute()
    }
  }
}

/** Requests that arrived before a listener's app was ready, per listener (see {@link listen}). */
const early = new WeakMap<Server, { hold: (req: IncomingMessage, res: ServerResponse) => void; held: Array<[IncomingMessage, ServerResponse]> }>()

/**
 * Binds first (port 0 = any free port), so that URLs are known before the apps are built.
 * Requests that come in before {@link serve} are held, then handed to the app: with API workers
 * (`--workers`) a starting worker receives connections as soon as it listens.
 */
function listen(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    const held: Array<[IncomingMessage, ServerResponse]> = []
    const hold = (req: IncomingMessage, res: ServerResponse): void => void held.push([req, res])
    early.set(server, { hold, held })
    server.on('request', hold)
    server.once('error', reject)
    server.listen(port, host, () => resolve(server))
  })
}

/** Serves `server`'s requests with `handler`, the ones held since it listened first. */
function serve(server: Server, handler: (req: IncomingMessage, res: ServerResponse) => void): void {
  const e = early.get(server)
  server.on('request', handler)
  if (e === undefined) return
  server.off('request', e.hold)
  early.delete(server)
  for (const [req, res] of e.held) handler(req, res)
}

const portOf = (s: Server): number => {
  const addr = s.address()
  return typeof addr === 'object' && addr !== null ? addr.port : 0
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/**
 * Starts the API cell: migrates and bootstraps the API database (admin identity, classic flavors,
 * the cirros image), registers the cell tree, connects to every region, re-drives pending builds,
 * then serves identity, compute and image.
 */
export async function startApi(a: ApiRuntimeArgs): Promise<ApiRuntime> {
  const stops: Array<() => Promise<void>> = []
  const cleanup = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => a.log.warn({ err: String(err) }, 'stop failed'))
  }
  try {
    ensurePrivateDir(a.stateDir)
    const api: Database<ApiSchema> = await openDatabase<ApiSchema>(a.apiDatabaseUrl)
    stops.push(() => api.close())
    await migrateToLatest(api.db, API_MIGRATIONS)
    const cell0db: Database<Cell0Schema> = await openDatabase<Cell0Schema>(a.cell0DatabaseUrl)
    stops.push(() => cell0db.close())
    await migrateToLatest(cell0db.db, cell0Migrations)

    const boot = await bootstrapIdentity(api.db, { adminPassword: a.adminPassword })
    await seedFlavors(api.db)
    const images = new ImageService({ db: api.db, storeDir: join(a.stateDir, 'images') })
    await images.seedCirros(boot.adminProjectId)
    await syncCells(api.db, a.cells)

    const secret = tokenSecret(a.stateDir)
    const tokens = new TokenService({ secret, ttlSeconds: 3600, revocations: new KyselyRevocationStore(api.db) })
    await tokens.loadRevocations(systemContext())
    // Revocations written elsewhere (another API process, `cellctl bootstrap` resetting the admin
    // password) reach this process's in-memory view within one period.
    const revocationTimer = setInterval(() => {
      tokens.loadRevocations(systemContext()).catch((err: unknown) => a.log.warn({ err: String(err) }, 'token revocation refresh failed'))
    }, REVOCATION_REFRESH_MS)
    revocationTimer.unref()
    stops.push(async () => clearInterval(revocationTimer))

    const net = await startNetworkRuntime({ db: api.db, host: a.host, publicHost: a.publicHost ?? a.host, port: a.ports.network ?? 0, tokens, regions: a.regions, federationRegion: FEDERATION_REGION, adminProjectId: boot.adminProjectId, log: a.log.child({ service: 'network' }) })
    stops.push(() => net.close())
    const tree = new CellTree({
      db: api.db,
      log: a.log.child({ service: 'cell-tree' }),
      downAfterMs: a.downAfterMs,
      tls: CellTls.open(a.pki, API_PATH),
      ...(a.antiEntropyIntervalMs === undefined ? {} : { antiEntropyIntervalMs: a.antiEntropyIntervalMs }),
    })
    await tree.start()
    stops.push(() => tree.stop())
    const cell0 = new Cell0Store(cell0db.db)
    const settings = new Map<string, { disabled: boolean; weightOffset: number }>()
    const refreshSettings = async (): Promise<void> => {
      const rows = await api.db.selectFrom('cells').select(['path', 'disabled', 'weight_offset']).execute()
      settings.clear()
      for (const r of rows) settings.set(r.path, { disabled: r.disabled === 1, weightOffset: r.weight_offset })
    }
    await refreshSettings()
    // Other API processes (and operators editing the table) change settings too: re-read them now and then.
    const settingsTimer = setInterval(() => {
      refreshSettings().catch((err: unknown) => a.log.warn({ err: String(err) }, 'cell settings refresh failed'))
    }, 5000)
    settingsTimer.unref()
    stops.push(async () => clearInterval(settingsTimer))
    const unobserve = observeCellCapacity(() => tree.reports())
    stops.push(async () => unobserve())
    const cellRanker = createCellRanker({
      ...cellPluginsOf(a.scheduler ?? DEFAULT_SCHEDULER_CONFIG),
      settingsOf: (path) => settings.get(path),
    })
    // Cross-cell cold migrations and resizes: sagas driven from here, resumed below after a restart.
    const crossCellMoves = new CrossCellMoves({ db: api.db, tree, log: a.log.child({ service: 'cross-cell' }) })
    stops.push(() => crossCellMoves.stop())
    const crossCellTargets = targetRanker(() => tree.reports(), cellRanker)
    const builds = new BuildLog()
    const dispatcher = new BuildDispatcher({
      builds,
      db: api.db,
      tree,
      cell0,
      log: a.log.child({ service: 'global-scheduler' }),
      settings: {
        maxCellAttempts: a.maxCellAttempts,
        ...(a.placementDeadlineMs === undefined ? {} : { placementDeadlineMs: a.placementDeadlineMs }),
        rank: cellRanker,
        groupMembers: groupMembersLookup(api.db),
        onPlaced: (uuid, host) => void net.allocator.bind({ instanceUuid: uuid, host }).catch((err: unknown) => a.log.warn({ instance: uuid, err: String(err) }, 'binding ports failed')),
      },
    })
    stops.push(() => dispatcher.drain())
    // A build a leaf could not spawn anywhere comes back up as a build request: send it down again.
    const queue: BuildQueue = a.forwardBuilds ?? dispatcher
    const offRescheduled = tree.onRescheduled((uuid) => queue.enqueue(systemContext(), uuid))
    stops.push(async () => offRescheduled())
    const offDeleted = followServers({ tree, db: api.db, allocator: net.allocator, log: a.log })
    stops.push(async () => offDeleted())

    const servers = {
      identity: await listen(a.host, a.ports.identity),
      compute: await listen(a.host, a.ports.compute),
      image: await listen(a.host, a.ports.image),
    }
    for (const server of Object.values(servers)) stops.push(() => close(server))
    // Node's parser rejects some requests before express runs: answer those in each API's shape too.
    answerClientErrors(servers.identity, keystoneFaultBody)
    // The compute listener also serves the cell admin API (Keystone's shape) under its prefix.
    answerClientErrors(servers.compute, (status, message, line) => (isAdminRequestLine(line) ? keystoneFaultBody(status, message) : faultBody(status, message)))
    answerClientErrors(servers.image, keystoneFaultBody)
    const host = a.publicHost ?? a.host
    const urls = {
      identity: `http://${host}:${portOf(servers.identity)}`,
      compute: `http://${host}:${portOf(servers.compute)}`,
      image: `http://${host}:${portOf(servers.image)}`,
      network: net.url,
    }
    const computeUrls = {
      [FEDERATION_REGION]: `${urls.compute}/v2.1`,
      ...Object.fromEntries(a.regions.map((r) => [r, `${urls.compute}/regions/${r}/v2.1`])),
    }
    const consoles = a.console === undefined ? undefined : await startRegionConsoleProxies({ db: api.db, host: a.host, publicHost: host, regions: a.regions, ...a.console, log: a.log.child({ service: 'console-proxy' }) })
    if (consoles !== undefined) stops.push(() => consoles.close())
    const locator = new InstanceLocator({ db: api.db, tree, cell0 })
    const metadata = a.metadata === undefined ? undefined : await startRegionMetadataServers({ db: api.db, locator, host: a.host, publicHost: host, regions: a.regions, ...a.metadata, addresses: a.addressLookup ?? net.allocator, interfaces: net.allocator, log: a.log.child({ service: 'metadata' }) })
    if (metadata !== undefined) stops.push(() => metadata.close())
    const signer = new FileUrlSigner({ key: fileUrlKey(secret), publicUrl: urls.image })
    const snapshots = snapshotImages(images, signer, SNAPSHOT_URL_TTL_MS)
    const unshelveMover = new UnshelveMover({
      db: api.db,
      clientFor: (path) => tree.clientFor(path),
      log: a.log.child({ service: 'unshelve-mover' }),
      discardImage: (imageId, uuid) => snapshots.discard(imageId, uuid),
      maxCellAttempts: a.maxCellAttempts,
      ...(a.placementDeadlineMs === undefined ? {} : { placementDeadlineMs: a.placementDeadlineMs }),
    })
    stops.push(() => unshelveMover.drain())
    const imageLookup: ImageLookup = async (caller, id) => {
      try {
        const img = await images.get({ requestId: 'lookup', projectId: caller.projectId, userId: caller.userId, roles: caller.roles }, id)
        return {
          id: img.id,
          name: img.name ?? '',
          status: img.status,
          minDisk: img.minDisk,
          minRam: img.minRam,
          properties: img.properties,
          // Compute hosts fetch the bytes with this URL: they hold no token of the user's.
          ...(img.status === 'active' ? { downloadUrl: signer.signedFileUrl(img.id, Date.now() + IMAGE_URL_TTL_MS) } : {}),
          ...(img.checksum === null ? {} : { checksum: img.checksum }),
          ...(img.diskFormat === null ? {} : { diskFormat: img.diskFormat }),
        }
      } catch (err) {
        if (err instanceof AppError && err.status === 404) return undefined
        throw err
      }
    }

    const identity = express()
    identity.disable('x-powered-by')
    identity.use(
      identityRouter({
        db: api.db,
        tokens,
        catalog: {
          // The federation-wide region first: clients given no region name take the global endpoint.
          regions: [FEDERATION_REGION, ...a.regions],
          parentRegions: Object.fromEntries(a.regions.map((r) => [r, FEDERATION_REGION])),
          identityUrl: `${urls.identity}/v3`,
          imageUrl: urls.image,
          computeUrls,
          networkUrls: net.urls,
        },
        publicUrl: urls.identity,
        logger: a.log.child({ service: 'identity' }),
      }),
    )
    const image = express()
    image.disable('x-powered-by')
    image.use(imageRouter({ images, publicUrl: urls.image, auth: authMiddleware(tokens), signer, logger: a.log.child({ service: 'image' }) }))
    const compute = computeApp(
      {
        db: api.db,
        tree,
        cell0,
        dispatcher,
        builds: queue,
        locator,
        images: imageLookup,
        snapshots,
        unshelveMover,
        imageProxy: { get: (ctx, id) => images.get(ctx, id), delete: (ctx, id) => images.delete(ctx, id), publicUrl: urls.image },
        log: a.log.child({ service: 'compute-api' }),
        regions: a.regions,
        network: net.allocator,
        securityGroups: net.security.nova,
        crossCell: { moves: crossCellMoves, targets: crossCellTargets, rule: a.crossCellRule ?? 'nobody' },
        ...(consoles === undefined ? {} : { consoles: consoles.service }),
      },
      tokens,
    )
    const adminDeps = {
      db: api.db,
      tree,
      cell0,
      cell0DatabaseUrl: a.cell0DatabaseUrl,
      refreshSettings,
      builds,
      log: a.log.child({ service: 'cell-admin' }),
      crossCell: { moves: crossCellMoves, targets: crossCellTargets },
    }
    const stopDisabledSync = syncDisabledFlags(adminDeps)
    stops.push(async () => stopDisabledSync())
    // The cell administration API (cellctl) shares the compute listener, under its own prefix.
    const computeListener = express()
    computeListener.disable('x-powered-by')
    computeListener.use(ADMIN_API_PREFIX, adminRouter(adminDeps, tokens))
    // The operator dashboard: static files whose script reads the APIs above with a token got from
    // the identity API, also served here under /identity (as devstack does) so the page needs no
    // cross-origin request.
    computeListener.use(DASHBOARD_PREFIX, dashboardRouter())
    computeListener.use('/identity', identity)
    computeListener.use(compute)
    const access = a.log.child({ service: 'access' })
    serve(servers.identity, observeHttp({ listener: 'identity', handler: identity, log: access }))
    serve(servers.compute, observeHttp({ listener: 'compute', handler: computeListener, log: access }))
    serve(servers.image, observeHttp({ listener: 'image', handler: image, log: access }))
    if (!(await tree.waitForCapacity(15_000))) a.log.warn('not every region reported capacity yet: builds may wait in cell0')
    // Only the process that dispatches re-drives: two dispatchers of one build could both place it.
    const pending = a.forwardBuilds === undefined ? await dispatcher.resumePending(systemContext()) : 0
    if (pending > 0) a.log.info({ pending }, 're-driving builds accepted before a restart')
    const sagas = await crossCellMoves.resumeAll()
    if (sagas > 0) a.log.info({ sagas }, 'resuming cross-cell moves started before a restart')
    // Unshelves into another cell cut short by a restart resume at the step they reached.
    const moves = await unshelveMover.resumePending(systemContext())
    if (moves > 0) a.log.info({ moves }, 'resuming unshelves into another cell')
    a.log.info({ urls, consoles: consoles?.urls, metadata: metadata?.urls, api: API_PATH }, 'API cell serving')
    return { urls, computeUrls, consoleUrls: consoles?.urls ?? {}, metadataUrls: metadata?.urls ?? {}, tree, dispatcher, crossCell: crossCellMoves, db: api.db, stop: cleanup }
  } catch (err) {
    await cleanup()
    throw err
  }
}
