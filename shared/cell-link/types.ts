import type { RequestContext } from '../context.js'
import type { BuildSpec } from './build-spec.js'

/**
 * Domain types of the cell-to-cell link. The generated protobuf shapes never leave shared/cell-link/:
 * both sides of a link speak these.
 */

/** Separator of cell path segments, as in Nova cells v1: `api!region-one!dc1`. */
export const PATH_SEPARATOR = '!'

/** Flavor dimensions a parent asks fit counts for. */
export interface FlavorShape {
  readonly id: string
  readonly memoryMb: number
  readonly vcpus: number
  readonly diskGb: number
}

/** How many of one flavor a cell (subtree) can still take. */
export interface FlavorFit {
  readonly count: number
  readonly maxPerHost: number
}

/** One cell's capacity as reported upward. */
export interface CellCapacity {
  readonly path: string
  readonly up: boolean
  readonly disabled: boolean
  readonly hostsUp: number
  readonly hostsTotal: number
  readonly instances: number
  readonly ramFreeMb: number
  readonly ramTotalMb: number
  readonly vcpusFree: number
  readonly vcpusTotal: number
  readonly diskFreeGb: number
  readonly diskTotalGb: number
  readonly availabilityZones: readonly string[]
  readonly hypervisorTypes: readonly string[]
  readonly cpuArchs: readonly string[]
  readonly flavorFits: Readonly<Record<string, FlavorFit>>
  readonly generatedAtMs: number
  readonly aggregate: boolean
}

/** A versioned change of one instance, travelling up from its leaf. */
export interface InstanceEvent {
  readonly instanceUuid: string
  readonly version: number
  readonly cellPath: string
  readonly payload: InstanceIndexPayload
}

/** The fields the API cell's instance index keeps (never a full copy of the instance). */
export interface InstanceIndexPayload {
  readonly uuid: string
  readonly projectId: string
  readonly userId: string
  readonly name: string
  readonly vmState: string
  readonly taskState: string | null
  readonly powerState: number
  readonly host: string | null
  readonly availabilityZone: string | null
  readonly flavorId: string
  readonly imageRef: string
  readonly createdAt: number
  readonly updatedAt: number
  readonly deleted: boolean
  /** Server tags (2.26), for the index's tag filters; absent from cells that predate them. */
  readonly tags?: readonly string[]
  /**
   * Only on the last event a leaf sends for an instance it could not spawn on any of its hosts:
   * the leaf has given the instance up (`deleted` is true there) and hands the build back to the
   * API cell, which sends it down again avoiding `triedCells` (or records it in cell0). Travels
   * in the outbox, so it is as durable as any event: no accepted build is lost on the way up.
   */
  readonly reschedule?: RescheduleRequest
}

/** A build handed back up the tree (see {@link InstanceIndexPayload.reschedule}). */
export interface RescheduleRequest {
  /** The build as the leaf received it. */
  readonly spec: BuildSpec
  /** Leaf cells that failed it so far, this one included. */
  readonly triedCells: readonly string[]
  /** Every failure message so far, oldest first. */
  readonly faults: readonly string[]
}

/** What a Watch stream delivers. */
export type CellUpdate =
  | { readonly kind: 'capacity'; readonly cells: readonly CellCapacity[] }
  | { readonly kind: 'events'; readonly events: readonly InstanceEvent[]; readonly cursor: number }

/** A build sent down the tree (on the wire: `BuildRequest`, see build-mapping.ts). */
export interface BuildCall {
  readonly instanceUuid: string
  readonly spec: BuildSpec
  readonly triedCells: readonly string[]
}

/** A child's answer to a build. */
export type BuildOutcome =
  | { readonly accepted: true; readonly cellPath: string; readonly host: string }
  | { readonly accepted: false; readonly reason: string }

/**
 * What one cell serves to its parent. The same interface is implemented by the gRPC client
 * (a parent calling a child) and by the child's own handler (the server side).
 */
export interface CellLink {
  build(ctx: RequestContext, call: BuildCall): Promise<BuildOutcome>
  instanceAction(ctx: RequestContext, args: InstanceActionCall): Promise<unknown>
  getInstances(ctx: RequestContext, args: { readonly cellPath: string; readonly uuids: readonly string[] }): Promise<unknown[]>
  /**
   * The same records as their JSON texts, unchecked: what a cell relays for a cell below it, so
   * that a page of a listing is not parsed and serialised again at every level. Only a relay may
   * use it; the final receiver reads through {@link CellLink.getInstances}, which checks that each
   * record is one it asked for, from the cell it asked.
   */
  getInstancesJson?(ctx: RequestContext, args: { readonly cellPath: string; readonly uuids: readonly string[] }): Promise<string[]>
  listHosts(ctx: RequestContext): Promise<unknown[]>
  /** An administrative operation on the cell at `cellPath` (see {@link CellAdminCall}). */
  cellAdmin(ctx: RequestContext, args: CellAdminCall): Promise<unknown>
  ackEvents(args: { readonly parentPath: string; readonly cursor: number }): Promise<void>
  /** One page of the subtree's instance versions, sorted by uuid (see {@link InstanceVersion}). */
  listInstanceVersions(ctx: RequestContext, args: InstanceVersionPage): Promise<InstanceVersion[]>
}

/** Which page of instance versions: uuids after `afterUuid` ('' = from the start), at most `limit`. */
export interface InstanceVersionPage {
  readonly afterUuid: string
  readonly limit: number
}

/**
 * What a subtree knows of one instance, for anti-entropy: its latest version and the leaf it lives
 * in. Deleted instances are listed too (their last version is the delete).
 */
export interface InstanceVersion {
  readonly uuid: string
  readonly version: number
  readonly cellPath: string
}

/** An administrative operation routed to one cell; `op` names it, `args` are JSON. */
export interface CellAdminCall {
  readonly cellPath: string
  readonly op: string
  readonly args: unknown
}

/** An action routed to the cell that owns the instance. */
export interface InstanceActionCall {
  readonly cellPath: string
  readonly instanceUuid: string
  readonly action: string
  readonly args: unknown
}

/** The server side of a Watch. */
export interface WatchSource {
  /** Starts a stream; `emit` is called for each update until the returned stop function runs. */
  watch(args: WatchArgs, emit: (u: CellUpdate) => void): () => void
}

/** What a parent asks for when it (re)connects. */
export interface WatchArgs {
  readonly parentPath: string
  readonly cursor: number
  readonly flavors: readonly FlavorShape[]
}

/** `true` when `path` is `ancestor` itself or lies below it. */
export function isWithin(path: string, ancestor: string): boolean {
  return path === ancestor || path.startsWith(ancestor + PATH_SEPARATOR)
}

/** The direct child of `parent` on the way to `path`, or undefined when `path` is not below it. */
export function nextHop(parent: string, path: string): string | undefined {
  if (!path.startsWith(parent + PATH_SEPARATOR)) return undefined
  const rest = path.slice(parent.length + 1)
  const seg = rest.split(PATH_SEPARATOR)[0]
  return seg === undefined || seg === '' ? undefined : `${parent}${PATH_SEPARATOR}${seg}`
}
