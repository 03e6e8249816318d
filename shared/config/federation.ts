import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ensurePrivateDir, tightenFile, writePrivateFile } from '../fs/private-files.js'
import { packageRoot } from '../paths.js'
import type { ServerKind, UrlSource } from './credentials.js'
import { serverUrl, withoutCredentials } from './credentials.js'
import type { CellConfig } from './regions.js'
import { allCells, loadRegions } from './regions.js'
import type { SchedulerConfig } from './scheduler-config.js'
import { loadSchedulerConfig } from './scheduler-config.js'

/**
 * Federation-wide settings: declared here, validated once at start-up, then frozen. Every process
 * (embedded or production) builds the same object from the same flags and environment.
 */
export interface FederationConfig {
  readonly mode: 'embedded' | 'production'
  readonly stateDir: string
  readonly regionsDir: string
  readonly regions: readonly CellConfig[]
  /** Listen address of the API cell's HTTP listeners and of every gRPC server. */
  readonly host: string
  /**
   * The API cell's address in the URLs it hands out (service catalog, image download URLs that
   * compute hosts fetch): `--public-host`, default `host`. Needed when the API binds `0.0.0.0`, or
   * when regions run at other sites and must reach it by an address of their own.
   */
  readonly publicHost: string
  /** `network`: the Neutron v2.0 listener. */
  readonly ports: { readonly identity: number; readonly compute: number; readonly image: number; readonly network: number }
  /**
   * Remote consoles: the first region's console proxy listens on `port`, the next region's on
   * `port + 1`, ... (0: free ports); tokens live `tokenTtlMs` (Nova's `[consoleauth] token_ttl`).
   */
  readonly console: { readonly port: number; readonly tokenTtlMs: number }
  /**
   * The metadata API (Nova's port 8775): the first region's listener on `port`, the next region's
   * on `port + 1`, ... (0: free ports). `proxySecret` (`FEDERATION_METADATA_PROXY_SECRET`, Neutron's
   * `metadata_proxy_shared_secret`) lets a metadata proxy forward requests with a signed
   * `X-Instance-ID`; unset, forwarded requests are refused.
   */
  readonly metadata: { readonly port: number; readonly proxySecret?: string }
  /** Production: `mysql://user:pass@host:port` (schemas are added per cell). See credentials.ts. */
  readonly databaseBaseUrl: string
  /** Production: `amqp://user:pass@host:port` (vhosts are added per cell). See credentials.ts. */
  readonly transportBaseUrl: string
  /** Where each server URL came from: a service refuses `local-default` (credentials.ts). */
  readonly serverUrlSources: Readonly<Record<ServerKind, UrlSource>>
  /** Prefix of schemas and vhosts, so that several federations can share a server. */
  readonly namePrefix: string
  /** Production: first gRPC port for cells without `grpc_port`. */
  readonly grpcBasePort: number
  /** `--workers`: API processes sharing the listening sockets (api-cell/api-workers.ts). */
  readonly apiWorkers: number
  readonly driver: 'auto' | 'libvirt' | 'fake'
  readonly adminPassword: string | undefined
  readonly timing: {
    /** Capacity report period of a cell agent, and compute's heartbeat period. */
    readonly reportIntervalMs: number
    /** A child silent this long is down. */
    readonly downAfterMs: number
    /** A compute service silent this long is down (Nova's service_down_time). */
    readonly serviceDownMs: number
    /**
     * How long the API cell tries to place one build: a region whose answer is unknown is asked
     * again until then; past it the build ends in cell0 (ERROR).
     */
    readonly placementDeadlineMs: number
    /**
     * Period of the anti-entropy pass each parent (cell agent, API cell) runs over its children:
     * instance versions compared, index drift repaired. Bounds how long a lost event can show.
     */
    readonly antiEntropyIntervalMs: number
    /** A spawn not back after this long is treated as failed on its host (0: never). */
    readonly buildTimeoutMs: number
    /**
     * Nova's `shelved_offload_time`, in seconds: how long a shelved instance keeps its host
     * before it is offloaded; 0 at once (default), -1 never.
     */
    readonly shelvedOffloadTimeS: number
  }
  /** Filters, weighers, attempts and workers (see `scheduler-config.ts`). */
  readonly scheduler: SchedulerConfig
  /** Who may have a resize or cold migration fall back to another cell (`FEDERATION_CROSS_CELL_RESIZE`). */
  readonly crossCellResize: CrossCellRule
  /**
   * The federation PKI (mutual TLS on every cell link): `STATE_DIR/pki`, and how often running
   * processes look for renewed certificates (`FEDERATION_CERT_REFRESH_MS`, default 5000).
   */
  readonly pki: { readonly dir: string; readonly refreshMs: number }
}

/** The flags every entry point accepts (parsed with node:util parseArgs). */
export const COMMON_OPTIONS = {
  'state-dir': { type: 'string' },
  'regions-dir': { type: 'string' },
  host: { type: 'string' },
  'public-host': { type: 'string' },
  'identity-port': { type: 'string' },
  'compute-port': { type: 'string' },
  'image-port': { type: 'string' },
  'network-port': { type: 'string' },
  'console-port': { type: 'string' },
  'metadata-port': { type: 'string' },
  'database-url': { type: 'string' },
  'transport-url': { type: 'string' },
  'name-prefix': { type: 'string' },
  'grpc-base-port': { type: 'string' },
  driver: { type: 'string' },
  'scheduler-config': { type: 'string' },
  'scheduler-workers': { type: 'string' },
  workers: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Help text for {@link COMMON_OPTIONS}. */
export const COMMON_HELP = `Options:
  --state-dir DIR        where SQLite files, libvirt host files and clouds.yaml live (default .federation)
  --regions-dir DIR      region files (default deploy/regions in the package)
  --host ADDR            listen address of every server (default 127.0.0.1)
  --public-host ADDR     the API's address in the service catalog and in the image URLs compute
                         hosts fetch, for clients and sites that reach it otherwise (default --host)
  --identity-port N      Keystone v3 port (default 5000)
  --compute-port N       Nova v2.1 port (default 8774)
  --image-port N         Glance v2 port (default 9292)
  --network-port N       Neutron v2.0 port (default 9696, or a free port when --compute-port is 0)
  --console-port N       console proxy (noVNC WebSocket) of the first region; the next regions
                         take the next ports (default 6080, or free ports when --compute-port is 0)
  --metadata-port N      metadata API (instances read their metadata and user data) of the first
                         region; the next regions take the next ports (default 8775, or free
                         ports when --compute-port is 0)
  --database-url URL     production: MariaDB/MySQL server, without password (credentials: see below)
  --transport-url URL    production: RabbitMQ server, without password (credentials: see below)
  --name-prefix NAME     prefix of database schemas and vhosts (default federation)
  --grpc-base-port N     production: first port for cells without grpc_port (default 18600; keep ports below 32768, the kernel's ephemeral range)
  --driver KIND          auto | libvirt | fake (default auto: libvirt's test driver when libvirt0 is installed)
  --scheduler-config F   scheduler filters, weighers and attempts (YAML; default deploy/scheduler.yaml when present)
  --scheduler-workers N  production: scheduler processes per cell with hosts (default 1, or the file's workers)
  --workers N            API worker processes sharing the listening sockets, so that requests spread
                         over the cores (Nova's osapi_compute_workers; default 1)
  -h, --help             this text
Environment:
  ADMIN_PASSWORD                 the first admin's password (generated on the first start when unset)
  LOG_LEVEL                      pino level of the JSON logs (default info)
  FEDERATION_DATABASE_URL        production: the database server's URL with its administrator's
                                 credentials (or FEDERATION_DATABASE_URL_FILE naming a chmod 600
                                 file holding it); the supervisor sets up with it and gives every
                                 service its own least-privilege account (default: local
                                 root@127.0.0.1)
  FEDERATION_TRANSPORT_URL       production: the same for RabbitMQ (or FEDERATION_TRANSPORT_URL_FILE;
                                 default: rabbitmqctl on this machine)
  FEDERATION_SCHEDULER_CONFIG    like --scheduler-config (the flag wins)
  FEDERATION_REPORT_INTERVAL_MS  how often cells report capacity upward (default 2000)
  FEDERATION_DOWN_AFTER_MS       a cell silent this long is down (default 4 report intervals: 8 s)
  FEDERATION_SERVICE_DOWN_MS     a compute service silent this long is down (default 60000)
  FEDERATION_PLACEMENT_DEADLINE_MS  how long a build may wait for a cell's definite answer before
                                 it ends in ERROR (cell0) (default 60000)
  FEDERATION_ANTI_ENTROPY_INTERVAL_MS  how often each parent compares its instance index with its
                                 children's instance versions and repairs drift (default 60000)
  FEDERATION_BUILD_TIMEOUT_MS    a spawn not back after this long is rescheduled as a failed one
                                 (Nova's instance_build_timeout; default 600000)
  FEDERATION_SHELVED_OFFLOAD_TIME  seconds a shelved instance keeps its host before it is
                                 offloaded: 0 at once (default), -1 never (Nova's shelved_offload_time)
  FEDERATION_CONSOLE_TOKEN_TTL   seconds a remote console URL's single-use token stays valid
                                 (Nova's [consoleauth] token_ttl; default 600)
  FEDERATION_METADATA_PROXY_SECRET  the secret a metadata proxy (Neutron's) signs the
                                 X-Instance-ID of the requests it forwards with (HMAC-SHA256, as
                                 metadata_proxy_shared_secret); unset: forwarded requests are refused
  FEDERATION_CERT_REFRESH_MS     how often running cells look for renewed certificates in
                                 STATE_DIR/pki (default 5000)
  FEDERATION_CROSS_CELL_RESIZE   who may have a resize or cold migration go to another cell when
                                 the instance's cell has no valid host: nobody (default, as Nova's
                                 compute:servers:resize:cross_cell), admin or any`

function int(name: string, v: string | undefined, def: number): number {
  if (v === undefined) return def
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new Error(`--${name} must be a port number, got ${v}`)
  return Number(v)
}

function workers(v: string, flag = 'scheduler-workers'): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 64) throw new Error(`--${flag} must be a number from 1 to 64, got ${v}`)
  return Number(v)
}

/** Builds the frozen config from parsed flags and the environment. Throws a one-line error on bad input. */
export function federationConfig(mode: 'embedded' | 'production', values: Record<string, string | boolean | undefined>): FederationConfig {
  const s = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined)
  const driver = s('driver') ?? 'auto'
  if (driver !== 'auto' && driver !== 'libvirt' && driver !== 'fake') throw new Error(`--driver must be auto, libvirt or fake, got ${driver}`)
  const prefix = s('name-prefix') ?? 'federation'
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(prefix)) throw new Error('--name-prefix must be lowercase letters, digits and _')
  const regionsDir = resolve(s('regions-dir') ?? resolve(packageRoot(), 'deploy', 'regions'))
  const env = process.env
  const num = (k: string, def: number): number => {
    const v = env[k]
    if (v === undefined || v === '') return def
    const n = Number(v)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${k} must be a positive number`)
    return n
  }
  const reportIntervalMs = num('FEDERATION_REPORT_INTERVAL_MS', 2000)
  const database = serverUrl('database', s('database-url'), env)
  const transport = serverUrl('transport', s('transport-url'), env)
  const stateDir = resolve(s('state-dir') ?? '.federation')
  return deepFreeze({
    mode,
    stateDir,
    pki: { dir: join(stateDir, 'pki'), refreshMs: num('FEDERATION_CERT_REFRESH_MS', 5000) },
    regionsDir,
    regions: loadRegions(regionsDir),
    host: s('host') ?? '127.0.0.1',
    publicHost: s('public-host') ?? s('host') ?? '127.0.0.1',
    ports: {
      identity: int('identity-port', s('identity-port'), 5000),
      compute: int('compute-port', s('compute-port'), 8774),
      image: int('image-port', s('image-port'), 9292),
      network: int('network-port', s('network-port'), s('compute-port') === '0' ? 0 : 9696),
    },
    console: {
      // Tests and benches ask for free ports with --compute-port 0: the proxies follow.
      port: int('console-port', s('console-port'), s('compute-port') === '0' ? 0 : 6080),
      tokenTtlMs: num('FEDERATION_CONSOLE_TOKEN_TTL', 600) * 1000,
    },
    metadata: {
      port: int('metadata-port', s('metadata-port'), s('compute-port') === '0' ? 0 : 8775),
      ...(env['FEDERATION_METADATA_PROXY_SECRET'] === undefined || env['FEDERATION_METADATA_PROXY_SECRET'] === '' ? {} : { proxySecret: env['FEDERATION_METADATA_PROXY_SECRET'] }),
    },
    databaseBaseUrl: database.url,
    transportBaseUrl: transport.url,
    serverUrlSources: { database: database.source, transport: transport.source },
    namePrefix: prefix,
    grpcBasePort: int('grpc-base-port', s('grpc-base-port'), 18600),
    apiWorkers: s('workers') === undefined ? 1 : workers(s('workers') as string, 'workers'),
    driver,
    adminPassword: env['ADMIN_PASSWORD'] === '' ? undefined : env['ADMIN_PASSWORD'],
    timing: {
      reportIntervalMs,
      downAfterMs: num('FEDERATION_DOWN_AFTER_MS', reportIntervalMs * 4),
      serviceDownMs: num('FEDERATION_SERVICE_DOWN_MS', 60_000),
      placementDeadlineMs: num('FEDERATION_PLACEMENT_DEADLINE_MS', 60_000),
      antiEntropyIntervalMs: num('FEDERATION_ANTI_ENTROPY_INTERVAL_MS', 60_000),
      buildTimeoutMs: num('FEDERATION_BUILD_TIMEOUT_MS', 600_000),
      shelvedOffloadTimeS: shelvedOffloadTime(env['FEDERATION_SHELVED_OFFLOAD_TIME']),
    },
    crossCellResize: crossCellRuleOf(env['FEDERATION_CROSS_CELL_RESIZE']),
    scheduler: loadSchedulerConfig({
      path: s('scheduler-config') ?? (env['FEDERATION_SCHEDULER_CONFIG'] || undefined),
      fallbackPath: resolve(packageRoot(), 'deploy', 'scheduler.yaml'),
      ...(s('scheduler-workers') === undefined ? {} : { workers: workers(s('scheduler-workers') as string) }),
    }),
  })
}

/**
 * Who may have a resize or cold migration go to another cell when the instance's own cell has no
 * valid host (Nova's `compute:servers:resize:cross_cell`, whose default is nobody). An admin naming
 * a host in another cell (migrate 2.56) and `cellctl cell drain` move across cells whatever it says.
 */
export type CrossCellRule = 'nobody' | 'admin' | 'any'

/** `FEDERATION_CROSS_CELL_RESIZE`: nobody (default), admin or any. */
export function crossCellRuleOf(raw: string | undefined): CrossCellRule {
  if (raw === undefined || raw === '') return 'nobody'
  if (raw === 'nobody' || raw === 'admin' || raw === 'any') return raw
  throw new Error('FEDERATION_CROSS_CELL_RESIZE must be nobody, admin or any')
}

/** `FEDERATION_SHELVED_OFFLOAD_TIME`: a whole number of seconds >= -1; default 0 (Nova's). */
function shelvedOffloadTime(v: string | undefined): number {
  if (v === undefined || v === '') return 0
  const n = Number(v)
  if (!Number.isInteger(n) || n < -1) throw new Error('FEDERATION_SHELVED_OFFLOAD_TIME must be a whole number of seconds >= -1')
  return n
}

/** Parses argv with the common flags plus `extra`; unknown flags are a usage error. */
export function parseFlags<E extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(argv: readonly string[], extra: E) {
  return parseArgs({ args: [...argv], options: { ...COMMON_OPTIONS, ...extra }, strict: true, allowPositionals: false }).values as Record<
    string,
    string | boolean | undefined
  >
}

/** Where one cell's state lives, by mode. */
export interface CellEndpoints {
  readonly databaseUrl: string
  readonly transportUrl: string
  /** The vhost to create (production). */
  readonly vhost: string | undefined
  /** Where the cell agent's gRPC server binds (`host:port`). */
  readonly grpcListen: string
  /** Where the parent dials the cell agent (`host:port`). */
  readonly grpcAddress: string
}

/** `0.0.0.0`, `::` (bracketed or not): a bind address that no peer can dial. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]'])

const slug = (path: string): string => path.replace(/!/g, '__').replace(/-/g, '_')

/** The database, bus and gRPC address of a cell. Embedded cells listen on a free port. */
export function cellEndpoints(cfg: FederationConfig, cell: CellConfig): CellEndpoints {
  if (cfg.mode === 'embedded') {
    return {
      databaseUrl: `sqlite:${resolve(cfg.stateDir, 'cells', `${cell.path.replace(/!/g, '.')}.db`)}`,
      transportUrl: `memory://${cell.path}`,
      vhost: undefined,
      grpcListen: `${cfg.host}:0`,
      grpcAddress: `${cfg.host}:0`,
    }
  }
  const cells = allCells(cfg.regions)
  const port = cell.grpcPort ?? cfg.grpcBasePort + cells.findIndex((c) => c.path === cell.path)
  const vhost = `${cfg.namePrefix}.${cell.path.replace(/!/g, '.')}`
  const listen = cell.grpcListen ?? `${cfg.host}:${port}`
  const sep = listen.lastIndexOf(':')
  const dialable = WILDCARD_HOSTS.has(listen.slice(0, sep)) ? `${cfg.publicHost}${listen.slice(sep)}` : listen
  return {
    databaseUrl: `${cfg.databaseBaseUrl}/${cfg.namePrefix}_${slug(cell.path)}`,
    transportUrl: `${cfg.transportBaseUrl}/${encodeURIComponent(vhost)}`,
    vhost,
    grpcListen: listen,
    grpcAddress: cell.grpcAddress ?? dialable,
  }
}

/** The API database and cell0's. */
export function apiDatabases(cfg: FederationConfig): { api: string; cell0: string } {
  if (cfg.mode === 'embedded') {
    return { api: `sqlite:${resolve(cfg.stateDir, 'api.db')}`, cell0: `sqlite:${resolve(cfg.stateDir, 'cell0.db')}` }
  }
  return { api: `${cfg.databaseBaseUrl}/${cfg.namePrefix}_api`, cell0: `${cfg.databaseBaseUrl}/${cfg.namePrefix}_cell0` }
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o)
    for (const v of Object.values(o)) deepFreeze(v)
  }
  return o
}

/** One cell as the API cell registers it in its cells table. */
export interface CellRegistrationInput {
  readonly path: string
  readonly name: string
  readonly parentPath: string
  readonly region: string
  readonly grpcAddress: string | null
  readonly databaseUrl: string | null
  readonly transportUrl: string | null
  readonly weightOffset: number
  readonly hosts: readonly string[]
}

/** Every configured cell with the address its agent listens on (`addressOf`, default: configured). */
export function cellRegistrations(cfg: FederationConfig, addressOf?: (c: CellConfig) => string | null): CellRegistrationInput[] {
  return allCells(cfg.regions).map((c) => {
    const ep = cellEndpoints(cfg, c)
    return {
      path: c.path,
      name: c.name,
      parentPath: c.path.slice(0, c.path.lastIndexOf('!')),
      region: c.region,
      grpcAddress: addressOf === undefined ? ep.grpcAddress : addressOf(c),
      // Stored in the API database and shown by cellctl: never with the credentials of whoever registers.
      databaseUrl: cfg.mode === 'production' ? withoutCredentials(ep.databaseUrl) : ep.databaseUrl,
      transportUrl: cfg.mode === 'production' ? withoutCredentials(ep.transportUrl) : ep.transportUrl,
      weightOffset: c.weightOffset,
      hosts: c.hosts.map((h) => h.name),
    }
  })
}

/** Where the generated admin password is kept (mode 0600): `<state dir>/admin-password`. */
export function adminPasswordFile(cfg: FederationConfig): string {
  return join(cfg.stateDir, 'admin-password')
}

/** ADMIN_PASSWORD, else the password generated on the first start and kept in {@link adminPasswordFile}. */
export function adminPasswordFor(cfg: FederationConfig): string {
  if (cfg.adminPassword !== undefined) return cfg.adminPassword
  const path = adminPasswordFile(cfg)
  ensurePrivateDir(cfg.stateDir)
  if (existsSync(path)) {
    tightenFile(path)
    return readFileSync(path, 'utf8').trim()
  }
  const pw = randomBytes(12).toString('base64url')
  writePrivateFile(path, pw)
  return pw
}

/**
 * Where the admin password can be read, for start-up banners: never the password itself (consoles
 * end up in logs, terminals are shared and scrolled back).
 */
export function adminPasswordHint(cfg: FederationConfig): string {
  return cfg.adminPassword !== undefined ? 'as set in ADMIN_PASSWORD' : `in ${adminPasswordFile(cfg)}`
}
