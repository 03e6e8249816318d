import { join } from 'node:path'
import { createBus } from '../shared/bus/create-bus.js'
import type { MessageBus } from '../shared/bus/message-bus.js'
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
  readonly timing: { readonly reportIntervalMs: number; readonly downAfterMs: number; readonly serviceDownMs: number; readonly antiEntropyIntervalMs?: number }
  /** Filters, weighers, attempts (see shared/config/scheduler-config.ts). */
  readonly scheduler: SchedulerConfig
  /** Only these hosts (production: one compute process may serve a subset). Default: all. */
  readonly hosts?: readonly string[]
  readonly log: Logger
}

/** Running services of a cell. */
export interface CellRuntime {
  /** The agent's gRPC port (0 when this process runs no agent). */
  readonly agentPort: number
  /** The virt driver of each compute host this process runs (tests look at the guests). */
  readonly drivers: ReadonlyMap<string, ComputeDriver>
  stop(): Promise<void>
}

/**
 * Starts the requested services of one cell, in dependency order (conductor, scheduler, compute,
 * agent). Compute gets a bus and a driver, never the database.
 */
export async function startCell(a: CellRuntimeArgs): Promise<CellRuntime> {
  const stops: Array<() => Promise<void>> = []
  const drivers = new Map<string, ComputeDriver>()
  const bus: MessageBus = await createBus({ url: a.transportUrl, name: `${a.cell.path}:${a.roles.join('+')}`, log: a.log.child({ service: 'bus' }) })
  stops.push(() => bus.close())
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
        bus,
        cellPath: a.cell.path,
        serviceDownMs: a.timing.serviceDownMs,
        log: a.log.child({ service: 'conductor' }),
        maxBuildAttempts: a.scheduler.maxAttempts,
      })
      await conductor.start()
      stops.push(() => conductor.stop())
    }
    if (a.roles.includes('scheduler') && database !== undefined && a.cell.hosts.length > 0) {
      const scheduler = new SchedulerManager({
        db: database.db,
        bus,
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
          bus,
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
        stops.push(() => compute.stop())
      }
    }
    let agentPort = 0
    if (a.roles.includes('agent')) {
      const weightOffsets = new Map(a.cell.children.map((c) => [c.path, c.weightOffset]))
      const agent = new CellAgent({
        bus,
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
      stop: async () => {
        for (const s of stops.reverse()) await s().catch((err: unknown) => a.log.warn({ err: String(err) }, 'stop failed'))
      },
    }
  } catch (err) {
    for (const s of stops.reverse()) await s().catch(() => undefined)
    throw err
  }
}
