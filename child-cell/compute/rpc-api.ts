import type { MessageBus } from '../../shared/bus/message-bus.js'
import type { ImageFetch, InstanceRecord } from '../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../shared/context.js'
import type { ConsoleAddress, ConsoleKind, GuestMigration } from './virt/driver.js'
import type { ImageUploadTarget } from './image-upload.js'

export type { ImageUploadTarget } from './image-upload.js'

/** The topic of one compute host. */
export function computeTopic(host: string): string {
  return `compute.${host}`
}

/** Client of compute hosts: every method is a cast (compute reports back through the conductor). */
export class ComputeApi {
  readonly #bus: MessageBus

  constructor(bus: MessageBus) {
    this.#bus = bus
  }

  #cast(ctx: RequestContext, host: string, method: string, args: unknown): Promise<void> {
    return this.#bus.cast(ctx, { topic: computeTopic(host), method, args })
  }

  /** The `uptime` line of the machine the host's compute runs on (`os-hypervisors/{id}/uptime`). */
  getHostUptime(ctx: RequestContext, host: string): Promise<string> {
    return this.#bus.call(ctx, { topic: computeTopic(host), method: 'get_host_uptime', args: {}, timeoutMs: 10_000 })
  }

  /** What the hypervisor says about one guest (power state, memory, vCPUs) and the driver's name. */
  getInstanceDiagnostics(ctx: RequestContext, host: string, uuid: string): Promise<{ powerState: number; memoryMb: number; vcpus: number; driver: string }> {
    return this.#bus.call(ctx, { topic: computeTopic(host), method: 'get_instance_diagnostics', args: { uuid }, timeoutMs: 10_000 })
  }

  buildAndRunInstance(ctx: RequestContext, host: string, instance: InstanceRecord): Promise<void> {
    return this.#cast(ctx, host, 'build_and_run_instance', { instance })
  }

  terminateInstance(ctx: RequestContext, host: string, uuid: string): Promise<void> {
    return this.#cast(ctx, host, 'terminate_instance', { uuid })
  }

  /** stop, start, reboot, pause, unpause, suspend, resume, rebuild (with the updated record). */
  powerAction(
    ctx: RequestContext,
    host: string,
    args: { uuid: string; action: string; taskState: string; hard?: boolean; previousVmState?: string; instance?: InstanceRecord },
  ): Promise<void> {
    return this.#cast(ctx, host, 'power_action', args)
  }

  /** createImage / createBackup: the disk flattened and uploaded to the signed URL. */
  snapshotInstance(ctx: RequestContext, host: string, args: { uuid: string; kind: 'snapshot' | 'backup'; taskState: string; vmState: string; upload: ImageUploadTarget }): Promise<void> {
    return this.#cast(ctx, host, 'snapshot_instance', args)
  }

  shelveInstance(ctx: RequestContext, host: string, args: { uuid: string; taskState: string; vmState: string; upload: ImageUploadTarget; offload: boolean }): Promise<void> {
    return this.#cast(ctx, host, 'shelve_instance', args)
  }

  shelveOffloadInstance(ctx: RequestContext, host: string, args: { uuid: string; taskState: string }): Promise<void> {
    return this.#cast(ctx, host, 'shelve_offload_instance', args)
  }

  /** With `instance` (its `imageRef` the shelved image): spawn here; without: power on. */
  unshelveInstance(ctx: RequestContext, host: string, args: { uuid: string; taskState: string; instance?: InstanceRecord; discardUrl?: string }): Promise<void> {
    return this.#cast(ctx, host, 'unshelve_instance', args)
  }

  rescueInstance(ctx: RequestContext, host: string, args: { uuid: string; taskState: string; vmState: string; imageRef: string; image?: ImageFetch }): Promise<void> {
    return this.#cast(ctx, host, 'rescue_instance', args)
  }

  unrescueInstance(ctx: RequestContext, host: string, args: { uuid: string; taskState: string }): Promise<void> {
    return this.#cast(ctx, host, 'unrescue_instance', args)
  }

  /** The last `length` lines of the guest's console log (a call: the text comes back this way). */
  getConsoleOutput(ctx: RequestContext, host: string, args: { uuid: string; length?: number }): Promise<string> {
    return this.#bus.call(ctx, { topic: computeTopic(host), method: 'get_console_output', args, timeoutMs: 10_000 })
  }

  /**
   * Where the guest's `kind` console listens (a call; the address goes back up the tree to the API
   * cell, which binds a console token to it). Never a password.
   */
  getConsole(ctx: RequestContext, host: string, args: { uuid: string; kind: ConsoleKind }): Promise<ConsoleAddress> {
    return this.#bus.call(ctx, { topic: computeTopic(host), method: 'get_console', args, timeoutMs: 10_000 })
  }

  /**
   * The steps of a move (resize, cold migration, evacuation), each a call answered once the host
   * did it, so that the conductor, which drives the move, can compensate a failed step (see
   * conductor/operations/move.ts). Every step is idempotent on the host.
   */
  moveStep<M extends keyof MoveSteps>(ctx: RequestContext, host: string, method: M, args: MoveSteps[M]['args'], timeoutMs = MOVE_STEP_TIMEOUT_MS): Promise<MoveSteps[M]['result']> {
    return this.#bus.call(ctx, { topic: computeTopic(host), method, args, timeoutMs })
  }
}

/** How long the conductor waits for one step of a move (a spawn on the target included). */
export const MOVE_STEP_TIMEOUT_MS = 120_000

/** The host's answer to a step that leaves a guest behind: its power state. */
export interface GuestState {
  readonly powerState: number
}

/** The compute methods of a move, their arguments and answers. */
export interface MoveSteps {
  /** Source: stops the guest (kept, with its disk, until confirm or revert). */
  readonly move_prepare_source: { readonly args: { readonly uuid: string }; readonly result: GuestState }
  /**
   * Target: creates the guest with the record's (new) flavor, replacing one of the same uuid on
   * this host (a same-host resize); powered off unless `powerOn`.
   */
  readonly move_finish_target: { readonly args: { readonly instance: InstanceRecord; readonly powerOn: boolean }; readonly result: GuestState }
  /** Removes the guest and its files from this host (the source at confirm, the target at revert). */
  readonly move_cleanup: { readonly args: { readonly uuid: string }; readonly result: null }
  /** Live migration, source: the guest's definition (it keeps running here). */
  readonly live_migration_source: { readonly args: { readonly uuid: string }; readonly result: GuestMigration }
  /** Live migration, target: the guest defined and started here from the source's definition. */
  readonly live_migration_target: { readonly args: { readonly migration: GuestMigration }; readonly result: GuestState }
  /**
   * Source at revert: the guest with the record's (old) flavor again, recreated when `recreate`
   * (a same-host resize replaced it), running when `powerOn`.
   */
  readonly move_finish_revert: {
    readonly args: { readonly instance: InstanceRecord; readonly powerOn: boolean; readonly recreate: boolean }
    readonly result: GuestState
  }
}
