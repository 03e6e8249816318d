import type { MessageBus } from '../../shared/bus/message-bus.js'
import type { ImageFetch, InstanceRecord } from '../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../shared/context.js'
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
}
