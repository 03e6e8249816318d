import { join } from 'node:path'
import { stringify } from 'yaml'
import type { ApiRuntime, ApiRuntimeArgs } from '../api-cell/runtime.js'
import { startApi } from '../api-cell/runtime.js'
import { apiRuntimeArgsOf } from '../api-cell/runtime-args.js'
import type { CellRuntime } from '../child-cell/runtime.js'
import type { ComputeDriver } from '../child-cell/compute/virt/driver.js'
import { startCell } from '../child-cell/runtime.js'
import { libvirtAvailable } from '../child-cell/compute/virt/create-driver.js'
import type { FederationConfig } from '../shared/config/federation.js'
import { adminPasswordFor, cellEndpoints, cellRegistrations } from '../shared/config/federation.js'
import type { CellConfig } from '../shared/config/regions.js'
import { allCells, FEDERATION_REGION } from '../shared/config/regions.js'
import { ensurePrivateDir, securePrivateTree, writePrivateFile } from '../shared/fs/private-files.js'
import { ensureFederationPki } from '../shared/pki/federation-ca.js'
import type { Logger } from '../shared/logging.js'

/** A whole federation in one process. */
export interface Federation {
  readonly api: ApiRuntime
  readonly driver: 'libvirt' | 'fake'
  readonly adminPassword: string
  readonly cloudsYaml: string
  /** The virt driver of a compute host (tests look at the guests). */
  driverOf(host: string): ComputeDriver | undefined
  /** Stops and starts one host's compute service: a host that comes back (fault tests). */
  restartCompute(host: string): Promise<void>
  /** Stops one cell's services (fault tests). */
  stopCell(path: string): Promise<void>
  /** Starts a cell stopped by {@link Federation.stopCell} again, on the same gRPC port (a cell that comes back). */
  restartCell(path: string): Promise<void>
  stop(): Promise<void>
}

/** The driver to use: `auto` picks libvirt's test driver when libvirt0 can be loaded. */
export async function resolveDriver(kind: FederationConfig['driver']): Promise<'libvirt' | 'fake'> {
  if (kind === 'fake') return 'fake'
  const ok = await libvirtAvailable()
  if (kind === 'libvirt' && !ok) throw new Error('--driver libvirt: the libvirt library (libvirt0) cannot be loaded')
  return ok ? 'libvirt' : 'fake'
}

/** Writes `clouds.yaml` (cloud `federation`) for the openstack CLI, mode 0600: it holds the admin password. Returns its path. */
export function writeCloudsYaml(cfg: FederationConfig, identityUrl: string, password: string): string {
  const path = join(cfg.stateDir, 'clouds.yaml')
  const doc = {
    clouds: {
      federation: {
        auth: {
          auth_url: `${identityUrl}/v3`,
          username: 'admin',
          password,
          project_name: 'admin',
          user_domain_name: 'Default',
          project_domain_name: 'Default',
        },
        identity_api_version: 3,
        interface: 'public',
        // The federation-wide region (the global compute endpoint) by default;
        // `--os-region-name region-two` narrows to one region.
        regions: [FEDERATION_REGION, ...cfg.regions.map((r) => r.name)],
        region_name: FEDERATION_REGION,
      },
    },
  }
  ensurePrivateDir(cfg.stateDir)
  writePrivateFile(path, stringify(doc))
  return path
}

/** The cells of an embedded federation, running in this process. */
export interface EmbeddedCells {
  readonly driver: 'libvirt' | 'fake'
  readonly running: Map<string, CellRuntime>
  /** The gRPC port of each cell's agent, by cell path. */
  readonly ports: ReadonlyMap<string, number>
  /** Starts one cell (again), listening on `listen` (default: its configured address). */
  startOne(c: CellConfig, listen?: string): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts every cell of `cfg.regions` in this process: SQLite files and the in-process bus per
 * cell, real gRPC over loopback (mutual TLS) between cells. Children start before their parents
 * so that every parent knows its children's addresses.
 */
export async function startEmbeddedCells(cfg: FederationConfig, log: Logger): Promise<EmbeddedCells> {
  // The state dir and everything an older start left in it: others on the machine read none of it.
  securePrivateTree(cfg.stateDir)
  const driver = await resolveDriver(cfg.driver)
  // Mutual TLS on every cell link, here too: the CA and the certificates of the configured cells
  // are created in STATE_DIR/pki when missing (or unusable), then every cell loads its own.
  const issued = await ensureFederationPki(cfg.pki.dir, ['api', ...allCells(cfg.regions).map((c) => c.path)])
  if (issued.length > 0) log.info({ pki: cfg.pki.dir, issued }, 'issued cell certificates')
  const running = new Map<string, CellRuntime>()
  const ports = new Map<string, number>()
  const startOne = async (c: CellConfig, listen?: string): Promise<void> => {
    const ep = cellEndpoints(cfg, c)
    const rt = await startCell({
      cell: c,
      roles: ['conductor', 'scheduler', 'compute', 'agent'],
      databaseUrl: ep.databaseUrl,
      transportUrl: ep.transportUrl,
      listenAddress: listen ?? ep.grpcAddress,
      children: c.children.map((ch) => ({ path: ch.path, address: `${cfg.host}:${ports.get(ch.path) ?? 0}` })),
      driver,
      stateDir: join(cfg.stateDir, 'cells', c.path.replace(/!/g, '.')),
      hostIp: cfg.host,
      timing: cfg.timing,
      scheduler: cfg.scheduler,
      pki: cfg.pki,
      log: log.child({ cell: c.path }),
    })
    running.set(c.path, rt)
    ports.set(c.path, rt.agentPort)
  }
  const startTree = async (c: CellConfig): Promise<void> => {
    for (const child of c.children) await startTree(child)
    await startOne(c)
  }
  const stop = async (): Promise<void> => {
    for (const rt of [...running.values()].reverse()) await rt.stop().catch(() => undefined)
    running.clear()
  }
  try {
    for (const region of cfg.regions) await startTree(region)
  } catch (err) {
    await stop()
    throw err
  }
  return { driver, running, ports, startOne, stop }
}

/** What the embedded API cell is started with, its cells' agents at `ports`. */
export function embeddedApiArgs(cfg: FederationConfig, ports: ReadonlyMap<string, number>, log: Logger): ApiRuntimeArgs {
  return apiRuntimeArgsOf(cfg, { cells: cellRegistrations(cfg, (c) => `${cfg.host}:${ports.get(c.path) ?? 0}`), log: log.child({ cell: 'api' }) })
}

/**
 * Starts the API cell and every cell of `cfg.regions` in this process (see
 * {@link startEmbeddedCells}). `extra`: services the API cell is given from outside (tests give
 * the metadata API an address lookup of their own).
 */
export async function startEmbeddedFederation(cfg: FederationConfig, log: Logger, extra: Pick<ApiRuntimeArgs, 'addressLookup'> = {}): Promise<Federation> {
  const cells = await startEmbeddedCells(cfg, log)
  const { driver, running, ports } = cells
  const adminPassword = adminPasswordFor(cfg)
  try {
    const api = await startApi({ ...embeddedApiArgs(cfg, ports, log), ...extra })
    const cloudsYaml = writeCloudsYaml(cfg, api.urls.identity, adminPassword)
    return {
      api,
      driver,
      adminPassword,
      cloudsYaml,
      driverOf: (host) => {
        for (const rt of running.values()) {
          const d = rt.drivers.get(host)
          if (d !== undefined) return d
        }
        return undefined
      },
      restartCompute: async (host) => {
        const rt = [...running.values()].find((r) => r.drivers.has(host))
        if (rt === undefined) throw new Error(`no compute host ${host}`)
        await rt.restartCompute(host)
      },
      stopCell: async (path) => {
        await running.get(path)?.stop()
        running.delete(path)
      },
      restartCell: async (path) => {
        const c = allCells(cfg.regions).find((x) => x.path === path)
        if (c === undefined || running.has(path)) throw new Error(`no stopped cell ${path}`)
        await cells.startOne(c, `${cfg.host}:${ports.get(path) ?? 0}`)
      },
      stop: async () => {
        await api.stop()
        for (const rt of [...running.values()].reverse()) await rt.stop()
        running.clear()
      },
    }
  } catch (err) {
    await cells.stop()
    throw err
  }
}
