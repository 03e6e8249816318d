import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ComputeManager } from '../../child-cell/compute/manager.js'
import type { ComputeDriver } from '../../child-cell/compute/virt/driver.js'
import { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import { ConductorManager } from '../../child-cell/conductor/manager.js'
import { cellMigrations } from '../../child-cell/db/migrations.js'
import type { CellSchema } from '../../child-cell/db/schema.js'
import { SchedulerManager } from '../../child-cell/scheduler/manager.js'
import { hostPluginsOf } from '../../child-cell/scheduler/plugins.js'
import { principalName } from '../../shared/bus/caller.js'
import { InProcessBus } from '../../shared/bus/in-process-bus.js'
import { DEFAULT_SCHEDULER_CONFIG } from '../../shared/config/scheduler-config.js'
import type { Database } from '../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../shared/db/database.js'
import { createLogger } from '../../shared/logging.js'

/** One leaf cell in-process, without an agent: see {@link startLeafCell}. */
export interface LeafCell {
  readonly cellPath: string
  readonly database: Database<CellSchema>
  readonly bus: InProcessBus
  readonly conductor: ConductorManager
  /** Each host's fake driver, by host name (hosts of a `makeDriver` are not in it). */
  readonly drivers: ReadonlyMap<string, FakeDriver>
  /** Each host's driver, whatever its kind, by host name. */
  readonly hostDrivers: ReadonlyMap<string, ComputeDriver>
  /**
   * Stops the host's compute service and closes its driver, then starts it again on a driver made
   * afresh (a host restart: libvirt's test driver forgets its guests; compute resyncs at start).
   */
  restartCompute(host: string): Promise<void>
  /** Stops every service, closes the bus and the database, removes the directory. */
  stop(): Promise<void>
}

/**
 * A leaf cell of the functional tests: a conductor, a scheduler and fake compute hosts on one
 * in-process bus over a SQLite cell database, each service speaking as itself so that the
 * conductor's caller policy applies (8 vCPUs and 100 GB per host; memory as given).
 */
export async function startLeafCell(args: {
  readonly cellPath: string
  readonly hosts: ReadonlyArray<readonly [name: string, memoryMb: number]>
  readonly maxBuildAttempts?: number
  /** The driver of a host (default: a fake of 8 vCPUs, `memoryMb` and 100 GB). */
  readonly makeDriver?: (host: string, memoryMb: number) => Promise<ComputeDriver>
}): Promise<LeafCell> {
  const dir = mkdtempSync(join(tmpdir(), 'leaf-cell-'))
  const database = await openDatabase<CellSchema>(`sqlite:${join(dir, 'cell.db')}`)
  await migrateToLatest(database.db, cellMigrations)
  const bus = new InProcessBus()
  const log = createLogger('test')
  const stops: Array<() => Promise<void>> = []
  const conductor = new ConductorManager({
    db: database.db,
    bus: bus.as(principalName(args.cellPath, 'conductor')),
    cellPath: args.cellPath,
    serviceDownMs: 60_000,
    log,
    ...(args.maxBuildAttempts === undefined ? {} : { maxBuildAttempts: args.maxBuildAttempts }),
  })
  await conductor.start()
  stops.push(() => conductor.stop())
  const scheduler = new SchedulerManager({
    db: database.db,
    bus: bus.as(principalName(args.cellPath, 'scheduler')),
    log,
    settings: { ...hostPluginsOf(DEFAULT_SCHEDULER_CONFIG), hostSubsetSize: 1, serviceDownMs: 60_000, maxClaimRounds: 3 },
  })
  await scheduler.start()
  stops.push(() => scheduler.stop())
  const drivers = new Map<string, FakeDriver>()
  const hostDrivers = new Map<string, ComputeDriver>()
  const computes = new Map<string, ComputeManager>()
  const memoryOf = new Map(args.hosts.map(([h, m]) => [h, m]))
  const startCompute = async (host: string): Promise<void> => {
    const memoryMb = memoryOf.get(host) ?? 0
    let driver: ComputeDriver
    if (args.makeDriver === undefined) {
      const fake = new FakeDriver({ resources: { vcpus: 8, memoryMb, localGb: 100 } })
      drivers.set(host, fake)
      driver = fake
    } else driver = await args.makeDriver(host, memoryMb)
    hostDrivers.set(host, driver)
    const compute = new ComputeManager({
      bus: bus.as(principalName(args.cellPath, 'compute', [host])),
      driver,
      log,
      settings: {
        host, hostIp: '127.0.0.1', availabilityZone: 'nova', cpuAllocationRatio: 1, ramAllocationRatio: 1, diskAllocationRatio: 1,
        reservedHostMemoryMb: 0, reservedHostDiskGb: 0, reportIntervalMs: 60_000, resumeGuestsStateOnHostBoot: true,
      },
    })
    await compute.start()
    computes.set(host, compute)
  }
  for (const [host] of args.hosts) await startCompute(host)
  stops.push(async () => {
    for (const c of computes.values()) await c.stop()
  })
  return {
    cellPath: args.cellPath,
    database,
    bus,
    conductor,
    drivers,
    hostDrivers,
    restartCompute: async (host) => {
      await computes.get(host)?.stop()
      computes.delete(host)
      await startCompute(host)
    },
    stop: async () => {
      for (const s of stops.splice(0).reverse()) await s()
      await bus.close()
      await database.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
