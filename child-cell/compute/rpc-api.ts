import type { MessageBus } from '../../shared/bus/message-bus.js'
import type { InstanceRecord } from '../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../shared/context.js'

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
}
