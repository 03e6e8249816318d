import { join } from 'node:path'
import { createBus } from '../shared/bus/create-bus.js'
import type { ServiceRole } from '../shared/bus/caller.js'
import { principalName } from '../shared/bus/caller.js'
import type { MessageBus } from '../shared/bus/message-bus.js'
import type { PkiSettings } from '../shared/cell-link/cell-tls.js'
import { CellTls } from '../shared/cell-link/cell-tls.js'
import type { ChildEndpoint } from '../shared/cell-link/child-watcher.js'
import type { CellConfig } from '../shared/config/regions.js'
import type { Database } from '../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../shared/db/database.js'
import type { Logger } from '../shared/logging.js'
import type { SchedulerConfig } from '../shared/config/scheduler-config.js'
import { cellPluginsOf } from '../shared/config/scheduler-config.js'
import { createCellRanker } from '../shared/scheduling/cell-ranking.js'
import { CellAgent } from './agent/agent.js'
import { ComputeManager } from './compute/manager.js'
import { ImageCache } from './compute/image-cache.js'
import { createDriver, instancesPathOf } from './compute/virt/create-driver.js'
import type { ComputeDriver } from './compute/virt/driver.js'
import { writeTestHostXml } from './compute/virt/host-xml.js'
import { ConductorManager } from './conductor/manager.js'
import { cellMigrations } from './db/migrations.js'
import type { CellSchema } from './db/schema.js'
import { SchedulerManager } from './scheduler/manager.js'
import { hostPluginsOf } from './scheduler/plugins.js'

/** The services one process runs for a cell. */
export const CELL_ROLES = ['conductor', 'scheduler', 'compute', 'agent'] as const
/** One of {@link CELL_ROLES}. */
export type CellRole = (typeof CELL_ROLES)[number]

/** Everything needed to run (some of) a cell's services. */
export interface CellRuntimeArgs {
  readonly cell: CellConfig
  readonly roles: readonly CellRole[]
  readonly databaseUrl: string
  readonly transportUrl: string
  readonly listenAddress: string
  readonly children: readonly ChildEndpoint[]
  readonly driver: 'libvirt' | 'fake'
  readonly stateDir: string
  readonly hostIp: string
  readonly timing: {
    readonly reportIntervalMs: number
    readonly downAfterMs: number
    readonly serviceDownMs: number
    readonly antiEntropyIntervalMs?: number
    readonly buildTimeoutMs?: number
    /** Nova's `shelved_offload_time` (seconds; 0 at once, -1 never). */
    readonly shelvedOffloadTimeS?: number
  }
  /** Filters, weighers, attempts (see shared/config/scheduler-config.ts). */
  readonly scheduler: SchedulerConfig
  /** Only these hosts (production: one compute process may serve a subset). Default: all. */
  readonly hosts?: readonly string[]
  /**
   * AMQP: whether the bus declares its exchanges, queues and bindings (default true). Production
   * services run with false: the supervisor declared the topology, and least-privilege broker
   * users may not (shared/bus/amqp-permissions.ts).
   */
  readonly busDeclares?: boolean
  /** Where the agent finds its cell certificate (mutual TLS to its parent and children). */
  readonly pki: PkiSettings
  readonly log: Logger
}

/** Running services of a cell. */
export interface CellRuntime {
  /** The agent's gRPC port (0 when this process runs no agent). */
  readonly agentPort: number
  /** The virt driver of each compute host this process runs (tests look at the guests). */
  readonly drivers: ReadonlyMap<string, ComputeDriver>
  /**
   * Stops and starts one host's compute service, as a host that comes back (fault tests): its
   * start-up sync runs again against the cell's records.
   */
  restartCompute(host: string): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts the requested services of one cell, in dependency order (conductor, scheduler, compute,
 * agent). Compute gets a bus and a driver, never the database.
 */
export async function startCell(a: CellRuntimeArgs): Promise<CellRuntime> {
  const stops: Array<() => Promise<void>> = []
  const drivers = new Map<string, ComputeDriver>()
  const computes = new Map<string, ComputeManager>()
  const busLog = a.log.child({ service: 'bus' })
  const bus: MessageBus = await createBus({
    url: a.transportUrl,
    name: `${a.cell.path}:${a.roles.join('+')}`,
    ...(a.busDeclares === undefined ? {} : { declare: a.busDeclares }),
    log: busLog,
  })
  stops.push(() => bus.close())
  // Each service speaks with its own identity, which its peers authorise on (shared/bus/caller.ts).
  // Over AMQP that is the connection's broker user (one role per process in production); on the
  // in-process bus each service gets a view of the cell's bus with its principal.
  const busAs = async (role: ServiceRole, hosts?: readonly string[]): Promise<MessageBus> =>
    a.transportUrl.startsWith('memory://')
      ? createBus({ url: a.transportUrl, name: `${a.cell.path}:${role}`, principal: principalName(a.cell.path, role, hosts), log: busLog })
      : bus
  let database: Database<CellSchema> | undefined
  const needsDb = a.roles.includes('conductor') || a.roles.includes('scheduler')
  try {
    if (needsDb) {
      database = await openDatabase<CellSchema>(a.databaseUrl)
      await migrateToLatest(database.db, cellMigrations)
      const d = database
      stops.push(() => d.close())
    }
    if (a.roles.includes('conductor') && database !== undefined) {
      const conductor = new ConductorManager({
        db: database.db,
        bus: await busAs('conductor'),
        cellPath: a.cell.path,
        serviceDownMs: a.timing.serviceDownMs,
        log: a.log.child({ service: 'conductor' }),
        maxBuildAttempts: a.scheduler.maxAttempts,
        ...(a.timing.buildTimeoutMs === undefined ? {} : { buildTimeoutMs: a.timing.buildTimeoutMs }),
        ...(a.timing.shelvedOffloadTimeS === undefined ? {} : { shelvedOffloadTimeS: a.timing.shelvedOffloadTimeS }),
      })
      await conductor.start()
      stops.push(() => conductor.stop())
    }
    if (a.roles.includes('scheduler') && database !== undefined && a.cell.hosts.length > 0) {
      const scheduler = new SchedulerManager({
        db: database.db,
        bus: await busAs('scheduler'),
        log: a.log.child({ service: 'scheduler' }),
        settings: {
          ...hostPluginsOf(a.scheduler),
          hostSubsetSize: a.scheduler.hostSubsetSize,
          serviceDownMs: a.timing.serviceDownMs,
          maxClaimRounds: a.scheduler.maxClaimRounds,
          hostStateCacheMs: a.scheduler.hostStateCacheMs,
        },
      })
      await scheduler.start()
      stops.push(() => scheduler.stop())
    }
    if (a.roles.includes('compute')) {
      for (const h of a.cell.hosts) {
        if (a.hosts !== undefined && !a.hosts.includes(h.name)) continue
        const hostDir = join(a.stateDir, 'hosts', h.name)
        const uri =
          a.driver === 'libvirt'
            ? await writeTestHostXml({ path: join(hostDir, 'host.xml'), vcpus: h.vcpus, memoryMb: h.memoryMb })
            : undefined
        const driver = await createDriver({ kind: a.driver, ...(uri === undefined ? {} : { uri }), vcpus: h.vcpus, memoryMb: h.memoryMb, diskGb: h.diskGb, stateDir: hostDir })
        drivers.set(h.name, driver)
        const compute = new ComputeManager({
          bus: await busAs('compute', [h.name]),
          driver,
          // The same instances directory as the driver's: guest disks sit next to the cached images.
          images: new ImageCache({ instancesPath: instancesPathOf(hostDir) }),
          log: a.log.child({ service: 'compute', host: h.name }),
          settings: {
            host: h.name,
            hostIp: a.hostIp,
            availabilityZone: a.cell.availabilityZone,
            cpuAllocationRatio: h.cpuAllocationRatio,
            ramAllocationRatio: h.ramAllocationRatio,
            diskAllocationRatio: h.diskAllocationRatio,
            reservedHostMemoryMb: h.reservedHostMemoryMb,
            reservedHostDiskGb: h.reservedHostDiskGb,
            reportIntervalMs: a.timing.reportIntervalMs,
            resumeGuestsStateOnHostBoot: true,
          },
        })
        await compute.start()
        computes.set(h.name, compute)
        stops.push(() => compute.stop())
      }
    }
    let agentPort = 0
    if (a.roles.includes('agent')) {
      const weightOffsets = new Map(a.cell.children.map((c) => [c.path, c.weightOffset]))
      const agent = new CellAgent({
        bus: await busAs('agent'),
        log: a.log.child({ service: 'cell-agent' }),
        settings: {
          cellPath: a.cell.path,
          listenAddress: a.listenAddress,
          hasHosts: a.cell.hosts.length > 0,
          children: a.children,
          reportIntervalMs: a.timing.reportIntervalMs,
          downAfterMs: a.timing.downAfterMs,
          ...(a.timing.antiEntropyIntervalMs === undefined ? {} : { antiEntropyIntervalMs: a.timing.antiEntropyIntervalMs }),
          maxCellAttempts: a.scheduler.maxCellAttempts,
          childWeightOffsets: weightOffsets,
          tls: CellTls.open(a.pki, a.cell.path),
          rank: createCellRanker({
            ...cellPluginsOf(a.scheduler),
            settingsOf: (path) => ({ disabled: false, weightOffset: weightOffsets.get(path) ?? 0 }),
          }),
        },
      })
      await agent.start()
      agentPort = agent.port
      stops.push(() => agent.stop())
    }
    return {
      agentPort,
      drivers,
      restartCompute: async (host) => {
        const compute = computes.get(host)
        if (compute === undefined) throw new Error(`no compute service for host ${host} in this process`)
        await compute.stop()
        await compute.start()
      },
      stop: async () => {
        for (const s of stops.reverse()) await s().catch((err: unknown) => a.log.warn({ err: String(err) }, 'stop failed'))
      },
    }
  } catch (err) {
    for (const s of stops.reverse()) await s().catch(() => undefined)
    throw err
  }
}
