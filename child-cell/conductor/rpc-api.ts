import type { BuildSpec, InstanceActionRecord, InstanceRecord } from '../../shared/cell-link/build-spec.js'
import type { CellCapacity, FlavorShape, InstanceEvent, InstanceVersion, InstanceVersionPage } from '../../shared/cell-link/types.js'
import type { MessageBus } from '../../shared/bus/message-bus.js'
import type { RequestContext } from '../../shared/context.js'
import type { HostResources } from '../compute/virt/driver.js'

/** The conductor's topic on the cell bus. */
export const CONDUCTOR_TOPIC = 'conductor'

/** How a compute host describes itself to the conductor. */
export interface ComputeNodeReport {
  readonly host: string
  readonly hostIp: string
  readonly availabilityZone: string
  readonly resources: HostResources
  readonly cpuAllocationRatio: number
  readonly ramAllocationRatio: number
  readonly diskAllocationRatio: number
  readonly reservedHostMemoryMb: number
  readonly reservedHostDiskGb: number
}

/** What compute reports after it worked on an instance. */
export interface InstanceUpdate {
  readonly uuid: string
  /** The task state compute expects (guards against a concurrent delete). */
  readonly expectedTaskState: string | null
  readonly vmState: string
  readonly taskState: string | null
  readonly powerState: number
  readonly launched?: boolean
  /** The guest left the host (shelve offload, a failed unshelve): its host and claim go. */
  readonly offloaded?: boolean
  readonly fault?: { readonly code: number; readonly message: string }
  readonly event: { readonly name: string; readonly result: 'Success' | 'Error'; readonly host: string }
}

/** A compute node with its service, as hypervisor and service listings show it. */
export interface HostRecord {
  readonly cellPath: string
  readonly nodeId: number
  readonly nodeUuid: string
  readonly host: string
  readonly hypervisorHostname: string
  readonly hostIp: string
  readonly availabilityZone: string
  readonly vcpus: number
  readonly vcpusUsed: number
  readonly memoryMb: number
  readonly memoryMbUsed: number
  readonly localGb: number
  readonly localGbUsed: number
  readonly runningVms: number
  readonly hypervisorType: string
  readonly hypervisorVersion: number
  readonly cpuInfo: string
  readonly cpuAllocationRatio: number
  readonly ramAllocationRatio: number
  readonly diskAllocationRatio: number
  readonly reservedHostMemoryMb: number
  readonly reservedHostDiskGb: number
  readonly service: {
    readonly id: number
    readonly uuid: string
    readonly binary: string
    readonly disabled: boolean
    readonly disabledReason: string | null
    readonly forcedDown: boolean
    readonly up: boolean
    readonly updatedAt: number
  } | null
}

/**
 * Client of the conductor, for compute, the scheduler's callers and the cell agent.
 * Every method is a `call` unless it says cast.
 */
export class ConductorApi {
  readonly #bus: MessageBus

  constructor(bus: MessageBus) {
    this.#bus = bus
  }

  #call<T>(ctx: RequestContext, method: string, args: unknown, timeoutMs?: number): Promise<T> {
    return this.#bus.call<T>(ctx, { topic: CONDUCTOR_TOPIC, method, args, ...(timeoutMs ? { timeoutMs } : {}) })
  }

  /** Schedules (with an atomic claim), records and casts the spawn. Idempotent per instance uuid. */
  buildInstance(ctx: RequestContext, spec: BuildSpec): Promise<{ host: string }> {
    return this.#call(ctx, 'build_instance', spec)
  }

  instanceAction(ctx: RequestContext, args: { uuid: string; action: string; args: unknown; isAdmin: boolean }): Promise<unknown> {
    return this.#call(ctx, 'instance_action', args)
  }

  getInstances(ctx: RequestContext, uuids: readonly string[]): Promise<InstanceRecord[]> {
    return this.#call(ctx, 'get_instances', { uuids })
  }

  listActions(ctx: RequestContext, uuid: string): Promise<InstanceActionRecord[]> {
    return this.#call(ctx, 'list_actions', { uuid })
  }

  instancesOnHost(ctx: RequestContext, host: string): Promise<InstanceRecord[]> {
    return this.#call(ctx, 'instances_on_host', { host })
  }

  instanceUpdate(ctx: RequestContext, update: InstanceUpdate): Promise<{ applied: boolean }> {
    return this.#call(ctx, 'instance_update', update)
  }

  instanceDestroyed(ctx: RequestContext, args: { uuid: string; host: string }): Promise<void> {
    return this.#call(ctx, 'instance_destroyed', args)
  }

  /** `registered`: the service row was (re-)created by this heartbeat. */
  serviceHeartbeat(ctx: RequestContext, args: { host: string; binary: string; topic: string }): Promise<{ registered: boolean }> {
    return this.#call(ctx, 'service_heartbeat', args)
  }

  computeNodeUpdate(ctx: RequestContext, report: ComputeNodeReport): Promise<void> {
    return this.#call(ctx, 'compute_node_update', report)
  }

  getCapacity(ctx: RequestContext, flavors: readonly FlavorShape[]): Promise<CellCapacity | null> {
    return this.#call(ctx, 'get_capacity', { flavors })
  }

  listHosts(ctx: RequestContext): Promise<HostRecord[]> {
    return this.#call(ctx, 'list_hosts', {})
  }

  /** Outbox events after `cursor`, oldest first. */
  outboxFetch(ctx: RequestContext, args: { after: number; limit: number }): Promise<{ events: InstanceEvent[]; cursor: number }> {
    return this.#call(ctx, 'outbox_fetch', args)
  }

  /** Forgets outbox events up to `cursor` (the parent applied them). */
  outboxAck(ctx: RequestContext, cursor: number): Promise<void> {
    return this.#call(ctx, 'outbox_ack', { cursor })
  }

  /** Intermediate cells: records child events (newer versions only) into this cell's outbox. */
  relayEvents(ctx: RequestContext, events: readonly InstanceEvent[]): Promise<{ applied: number }> {
    return this.#call(ctx, 'relay_events', { events })
  }

  /** Anti-entropy: one page of the instance versions this cell knows (own and relayed), by uuid. */
  instanceVersions(ctx: RequestContext, page: InstanceVersionPage): Promise<InstanceVersion[]> {
    return this.#call(ctx, 'instance_versions', page)
  }

  /** Anti-entropy: of a child's versions, those this cell's index lacks or holds older. */
  staleVersions(ctx: RequestContext, versions: readonly InstanceVersion[]): Promise<InstanceVersion[]> {
    return this.#call(ctx, 'stale_versions', { versions })
  }

  /** An administrative operation (`admin_<op>` on the conductor); see conductor/operations/admin.ts. */
  admin(ctx: RequestContext, op: string, args: unknown): Promise<unknown> {
    return this.#call(ctx, `admin_${op}`, args)
  }

  getState(ctx: RequestContext, key: string): Promise<string | null> {
    return this.#call(ctx, 'get_state', { key })
  }

  setState(ctx: RequestContext, key: string, value: string): Promise<void> {
    return this.#call(ctx, 'set_state', { key, value })
  }
}
