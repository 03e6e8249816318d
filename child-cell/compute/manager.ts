import { loadavg, uptime as osUptime } from 'node:os'
import { requireCaller } from '../../shared/bus/caller.js'
import type { MessageBus, Subscription } from '../../shared/bus/message-bus.js'
import type { InstanceRecord } from '../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../shared/context.js'
import { systemContext } from '../../shared/context.js'
import { InvalidError } from '../../shared/errors.js'
import { KeyedQueue } from '../../shared/keyed-queue.js'
import type { Logger } from '../../shared/logging.js'
import { ConductorApi } from '../conductor/rpc-api.js'
import type { ImageCache } from './image-cache.js'
import { computeTopic } from './rpc-api.js'
import type { ComputeDriver, ConsoleKind, GuestMigration } from './virt/driver.js'
import { CONSOLE_KINDS, ConsoleUnavailableError, POWER_STATES } from './virt/driver.js'
import { liveMigrationSource, liveMigrationTarget, moveCleanup, moveFinishRevert, moveFinishTarget, movePrepareSource } from './operations/move.js'
import { powerAction, type PowerActionArgs } from './operations/power.js'
import { rescueInstance, unrescueInstance } from './operations/rescue.js'
import type { RescueArgs } from './operations/rescue.js'
import { shelveInstance, shelveOffloadInstance, snapshotInstance, unshelveInstance } from './operations/shelve.js'
import type { ShelveArgs, SnapshotArgs, UnshelveArgs } from './operations/shelve.js'
import { spawnInstance } from './operations/spawn.js'
import { syncHost } from './operations/sync.js'
import { terminateInstance } from './operations/terminate.js'

/** The settings of one compute host. */
export interface ComputeHostSettings {
  readonly host: string
  readonly hostIp: string
  readonly availabilityZone: string
  readonly cpuAllocationRatio: number
  readonly ramAllocationRatio: number
  readonly diskAllocationRatio: number
  readonly reservedHostMemoryMb: number
  readonly reservedHostDiskGb: number
  /** Seconds between service heartbeats (Nova's report_interval). */
  readonly reportIntervalMs: number
  /** Restart guests that should be running after the host (or the test driver) restarted. */
  readonly resumeGuestsStateOnHostBoot: boolean
}

/** What compute operations work with. */
export interface ComputeContext {
  readonly settings: ComputeHostSettings
  readonly driver: ComputeDriver
  /** The host's image cache; without one, guests spawn without a prepared disk. */
  readonly images?: ImageCache
  readonly conductor: ConductorApi
  readonly log: Logger
}

type Handler = (ctx: RequestContext, args: any) => Promise<unknown>

/** Methods that only read from the host or a guest: they need not wait for the instance's lock. */
const UNLOCKED_METHODS: ReadonlySet<string> = new Set(['get_host_uptime', 'get_console_output', 'get_instance_diagnostics'])

/**
 * The instance a method acts on (`instance.uuid`, `uuid`, or a live migration's `migration.uuid`),
 * the key of its per-instance lock; `undefined` for host-wide methods.
 */
export function instanceKeyOf(method: string, args: unknown): string | undefined {
  if (UNLOCKED_METHODS.has(method) || typeof args !== 'object' || args === null) return undefined
  const a = args as { instance?: { uuid?: unknown }; uuid?: unknown; migration?: { uuid?: unknown } }
  const key = a.instance?.uuid ?? a.uuid ?? a.migration?.uuid
  return typeof key === 'string' && key !== '' ? key : undefined
}

/**
 * nova-compute for one host: serves `compute.<host>`, drives the virt driver and reports every
 * result through the conductor. It holds no database access by design.
 */
export class ComputeManager {
  readonly #c: ComputeContext
  readonly #bus: MessageBus
  readonly #handlers: Readonly<Record<string, Handler>>
  /** Nova's per-instance lock: the operations of one instance run one after the other, in arrival order. */
  readonly #locks = new KeyedQueue()
  #sub: Subscription | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(args: {
    readonly bus: MessageBus
    readonly driver: ComputeDriver
    readonly settings: ComputeHostSettings
    readonly log: Logger
    /** Where guest disks come from (see image-cache.ts). */
    readonly images?: ImageCache
  }) {
    this.#bus = args.bus
    this.#c = {
      settings: args.settings,
      driver: args.driver,
      conductor: new ConductorApi(args.bus),
      log: args.log,
      ...(args.images === undefined ? {} : { images: args.images }),
    }
    this.#handlers = {
      build_and_run_instance: (ctx, a: { instance: InstanceRecord }) => spawnInstance(this.#c, ctx, a.instance),
      terminate_instance: (ctx, a: { uuid: string }) => terminateInstance(this.#c, ctx, a.uuid),
      power_action: (ctx, a: PowerActionArgs) => powerAction(this.#c, ctx, a),
      get_host_uptime: () => Promise.resolve(uptimeLine()),
      move_prepare_source: (ctx, a: { uuid: string }) => movePrepareSource(this.#c, ctx, a),
      move_finish_target: (ctx, a: { instance: InstanceRecord; powerOn: boolean }) => moveFinishTarget(this.#c, ctx, a),
      move_cleanup: (ctx, a: { uuid: string }) => moveCleanup(this.#c, ctx, a),
      move_finish_revert: (ctx, a: { instance: InstanceRecord; powerOn: boolean; recreate: boolean }) => moveFinishRevert(this.#c, ctx, a),
      live_migration_source: (ctx, a: { uuid: string }) => liveMigrationSource(this.#c, ctx, a),
      live_migration_target: (ctx, a: { migration: GuestMigration }) => liveMigrationTarget(this.#c, ctx, a),
      snapshot_instance: (ctx, a: SnapshotArgs) => snapshotInstance(this.#c, ctx, a),
      shelve_instance: (ctx, a: ShelveArgs) => shelveInstance(this.#c, ctx, a),
      shelve_offload_instance: (ctx, a: { uuid: string; taskState: string }) => shelveOffloadInstance(this.#c, ctx, a),
      unshelve_instance: (ctx, a: UnshelveArgs) => unshelveInstance(this.#c, ctx, a),
      rescue_instance: (ctx, a: RescueArgs) => rescueInstance(this.#c, ctx, a),
      unrescue_instance: (ctx, a: { uuid: string; taskState: string }) => unrescueInstance(this.#c, ctx, a),
      // Read from the guest's console log on this host; answered through the conductor, never stored.
      get_console_output: (_ctx, a: { uuid: string; length?: number }) => this.#c.driver.getConsoleOutput(a.uuid, a.length),
      // The console's address from the guest's definition on this host (Nova's get_vnc_console).
      get_console: (_ctx, a: { uuid: string; kind: ConsoleKind }) => {
        if (!(CONSOLE_KINDS as readonly string[]).includes(a.kind)) return Promise.reject(new ConsoleUnavailableError(String(a.kind)))
        return this.#c.driver.getConsole(a.uuid, a.kind)
      },
      get_instance_diagnostics: async (_ctx, a: { uuid: string }) => ({ ...(await this.#c.driver.getInfo(a.uuid)), driver: this.#c.driver.name }),
    }
  }

  get host(): string {
    return this.#c.settings.host
  }

  /** Connects the driver, reports inventory and liveness, resyncs guests, then takes work. */
  async start(): Promise<void> {
    await this.#c.driver.init()
    const ctx = systemContext()
    await this.reportInventory(ctx)
    await this.heartbeat(ctx)
    await syncHost(this.#c, ctx)
    this.#sub = await this.#bus.serve({
      topic: computeTopic(this.#c.settings.host),
      fanout: false,
      handler: (hctx, method, args, caller) => {
        // Only the conductor drives a host; another compute host never may (caller.ts).
        requireCaller(caller, `compute.${this.#c.settings.host}`, ['conductor', 'operator'])
        const h = this.#handlers[method]
        if (h === undefined) throw new InvalidError(`compute has no method ${method}`)
        const key = instanceKeyOf(method, args)
        return key === undefined ? h(hctx, args) : this.#locks.run(key, () => h(hctx, args))
      },
    })
    this.#timer = setInterval(() => {
      this.heartbeat(systemContext()).catch((err: unknown) => this.#c.log.warn({ err: String(err) }, 'heartbeat failed'))
    }, this.#c.settings.reportIntervalMs)
    this.#timer.unref()
  }

  /**
   * Reports liveness. When the conductor had to register the service again (an operator deleted
   * it, which deletes the compute node too), reports the inventory again, as Nova's resource
   * tracker re-creates a deleted compute node.
   */
  async heartbeat(ctx: RequestContext): Promise<void> {
    const res = await this.#c.conductor.serviceHeartbeat(ctx, {
      host: this.#c.settings.host,
      binary: 'nova-compute',
      topic: computeTopic(this.#c.settings.host),
    })
    if (res?.registered === true && this.#timer !== undefined) await this.reportInventory(ctx)
  }

  async reportInventory(ctx: RequestContext): Promise<void> {
    const s = this.#c.settings
    await this.#c.conductor.computeNodeUpdate(ctx, {
      host: s.host,
      hostIp: s.hostIp,
      availabilityZone: s.availabilityZone,
      resources: await this.#c.driver.getHostResources(),
      cpuAllocationRatio: s.cpuAllocationRatio,
      ramAllocationRatio: s.ramAllocationRatio,
      diskAllocationRatio: s.diskAllocationRatio,
      reservedHostMemoryMb: s.reservedHostMemoryMb,
      reservedHostDiskGb: s.reservedHostDiskGb,
    })
  }

  /** Stops taking work; guests keep running (as a real hypervisor's would). */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    await this.#sub?.close()
    this.#sub = undefined
    await this.#c.driver.close()
  }
}

export { POWER_STATES }

/**
 * What `uptime` prints on the machine this compute runs on (Nova's libvirt driver runs `uptime`):
 * ` 08:32:11 up 93 days, 18:25,  0 users,  load average: 0.09, 0.07, 0.05`.
 */
export function uptimeLine(now = new Date(), seconds = osUptime(), load = loadavg()): string {
  const pad = (n: number): string => String(n).padStart(2, '0')
  const days = Math.floor(seconds / 86400)
  const hours = Math.floor((seconds % 86400) / 3600)
  const minutes = Math.floor((seconds % 3600) / 60)
  const up = `${days > 0 ? `${days} day${days === 1 ? '' : 's'}, ` : ''}${hours}:${pad(minutes)}`
  const clock = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`
  return ` ${clock} up ${up},  0 users,  load average: ${load.map((l) => l.toFixed(2)).join(', ')}`
}
