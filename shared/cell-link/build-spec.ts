/**
 * What the API cell sends down the tree to build one instance, and what a leaf answers about one
 * instance. Between cells a build travels as the typed `BuildSpec` message of proto/cell.proto
 * (mapped in build-mapping.ts, which says how to add a field); inside a cell it crosses AMQP as JSON.
 */
import type { NetworkInfo } from '../network/network-info.js'

/** The flavor as booted. Memory in MB, disks in GB, swap in MB. */
export interface FlavorSnapshot {
  readonly id: string
  readonly name: string
  readonly memoryMb: number
  readonly vcpus: number
  readonly rootGb: number
  readonly ephemeralGb: number
  readonly swapMb: number
  readonly extraSpecs: Readonly<Record<string, string>>
}

/** Everything a leaf needs to schedule and spawn one instance. */
export interface BuildSpec {
  readonly instanceUuid: string
  readonly name: string
  readonly hostname: string
  readonly projectId: string
  readonly userId: string
  readonly flavor: FlavorSnapshot
  readonly image: BuildImage
  readonly availabilityZone: string | null
  readonly metadata: Readonly<Record<string, string>>
  readonly keyName: string | null
  readonly keyData: string | null
  readonly userData: string | null
  readonly description: string | null
  readonly reservationId: string
  readonly launchIndex: number
  readonly schedulerHints: Readonly<Record<string, unknown>>
  /**
   * The server group the instance joins, with the hosts its other members already use (filled by
   * the API cell from its instance index when it dispatches the build). Absent: no group.
   */
  readonly group?: BuildGroup
  /**
   * Multi-create: the request's `min_count` (the first `minCount` launch indexes of the
   * reservation are placed all or nothing). Absent: 1.
   */
  readonly minCount?: number
  /** Set when the build is being rescheduled after a failed spawn (absent on the first attempt). */
  readonly retry?: BuildRetry
  readonly accessIpV4?: string
  readonly accessIpV6?: string
  /**
   * The host aggregates (created through `/os-aggregates`) whose metadata the leaf's aggregate
   * filters read: each with its hosts and metadata. Absent: none.
   */
  readonly aggregates?: readonly BuildAggregate[]
  /**
   * The compute host an admin asked for (compute API 2.74 `host` / `hypervisor_hostname`): the leaf
   * schedules onto it only, its filters still applying. The API also sets the `target_cell` hint
   * to the host's cell, so that parents route the build there. Absent: any host.
   */
  readonly requestedHost?: string
  /** Server tags given at boot (compute API 2.52): at most 50, each 1-60 characters. Absent: none. */
  readonly tags?: readonly string[]
  /**
   * Set on an unshelve into another cell (api-cell/scheduler/unshelve-mover.ts): the instance's own
   * image, which its record keeps (as Nova's unshelve does), while `image` is the shelved snapshot
   * the guest is spawned from. The leaf records the action as `unshelve`. Absent: a boot.
   */
  readonly unshelveImageRef?: string
  /**
   * The server's interfaces as the API cell's network service allocated them (see
   * shared/network/network-info.ts): the conductor hands them to compute, the driver renders them.
   * Absent or empty: no network (`networks: none`).
   */
  readonly networkInfo?: NetworkInfo
  readonly createdAt: number
}

/**
 * The image of a build. `downloadUrl`, `checksum` and `diskFormat` tell the compute host how to
 * fetch the bytes into its image cache; specs written before they existed lack them (the host
 * then spawns without preparing a disk, as it did before).
 */
export interface BuildImage {
  readonly id: string
  readonly name: string
  readonly properties: Readonly<Record<string, string>>
  /**
   * A signed, expiring URL of the image API's `GET /v2/images/{id}/file`: the capability to read
   * this one image without a token, so that compute hosts hold neither users' tokens nor any
   * credentials of their own.
   */
  readonly downloadUrl?: string
  /** MD5 hex of the bytes (Glance's `checksum`): the host verifies what it downloaded. */
  readonly checksum?: string
  /** Glance's `disk_format` (`qcow2`, `raw`, ...): decides the backing format of instance disks. */
  readonly diskFormat?: string
}

/** A host aggregate as a build carries it to the leaf scheduler. */
export interface BuildAggregate {
  readonly hosts: readonly string[]
  readonly metadata: Readonly<Record<string, string>>
}

/** How a compute host fetches an image: what {@link BuildImage} carries, without the metadata. */
export interface ImageFetch {
  readonly downloadUrl: string
  readonly checksum?: string
  readonly diskFormat?: string
}

/** The fetch part of a build's image; undefined for a spec without a download URL. */
export function imageFetchOf(image: Readonly<Partial<BuildImage>>): ImageFetch | undefined {
  if (typeof image.downloadUrl !== 'string' || image.downloadUrl === '') return undefined
  return {
    downloadUrl: image.downloadUrl,
    ...(typeof image.checksum === 'string' ? { checksum: image.checksum } : {}),
    ...(typeof image.diskFormat === 'string' ? { diskFormat: image.diskFormat } : {}),
  }
}

/**
 * A build sent down again after a leaf could not spawn it on any of its hosts (Nova's reschedule,
 * taken up the tree): where it failed, and what the instance's events must exceed.
 */
export interface BuildRetry {
  /** 1 for the first reschedule, then 2, ... */
  readonly attempt: number
  /** Leaf cells that already failed to build it (the parent does not send it there again). */
  readonly triedCells: readonly string[]
  /** One message per failed attempt, oldest first (the fault if the build ends in cell0). */
  readonly faults: readonly string[]
  /**
   * The instance's version when it was handed back up: the next leaf numbers its events from
   * here, so every index up the tree keeps applying them (versions only grow).
   */
  readonly versionBase: number
}

/** Server group membership of a build. */
export interface BuildGroup {
  readonly uuid: string
  readonly policy: 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity'
  /** `max_server_per_host` for anti-affinity (2.64 rules). */
  readonly maxServerPerHost?: number
  /** Hosts (and their cell paths) of the group's other members. */
  readonly members: ReadonlyArray<{ readonly host: string; readonly cellPath: string }>
}

/** One instance as its leaf cell knows it (the owning cell's truth). */
export interface InstanceRecord {
  readonly uuid: string
  readonly name: string
  readonly hostname: string
  readonly projectId: string
  readonly userId: string
  readonly cellPath: string
  readonly host: string | null
  readonly node: string | null
  readonly availabilityZone: string | null
  readonly flavor: FlavorSnapshot
  readonly imageRef: string
  /**
   * How the host fetches `imageRef` (set on what the conductor casts to compute for a spawn or a
   * rebuild; never stored in the cell DB, since the URL expires).
   */
  readonly image?: ImageFetch
  readonly vmState: string
  readonly taskState: string | null
  readonly powerState: number
  readonly keyName: string | null
  readonly metadata: Readonly<Record<string, string>>
  readonly userData: string | null
  readonly description: string | null
  readonly reservationId: string
  readonly launchIndex: number
  readonly locked: boolean
  readonly lockedBy: string | null
  readonly lockedReason: string | null
  readonly configDrive: string
  readonly accessIpV4: string | null
  readonly accessIpV6: string | null
  readonly fault: { readonly code: number; readonly message: string; readonly created: number; readonly details?: string } | null
  readonly version: number
  readonly launchedAt: number | null
  readonly terminatedAt: number | null
  readonly createdAt: number
  readonly updatedAt: number
  readonly deleted: boolean
  /** Server tags (compute API 2.26); absent in records of cells that predate them (= none). */
  readonly tags?: readonly string[]
  /** Shelved instances: the snapshot image the instance is unshelved from. */
  readonly shelvedImageId?: string
}

/** One instance action (`os-instance-actions`) with its events. */
export interface InstanceActionRecord {
  readonly requestId: string
  readonly instanceUuid: string
  readonly action: string
  readonly projectId: string
  readonly userId: string
  readonly startTime: number
  readonly finishTime: number | null
  readonly message: string | null
  readonly events: ReadonlyArray<{
    readonly event: string
    readonly host: string | null
    readonly startTime: number
    readonly finishTime: number | null
    readonly result: string | null
  }>
}

/** Instance actions the tree routes to the owning leaf. */
export const INSTANCE_ACTIONS = [
  'delete',
  'stop',
  'start',
  'reboot',
  'pause',
  'unpause',
  'suspend',
  'resume',
  'lock',
  'unlock',
  'update',
  'set_metadata',
  'set_tags',
  'diagnostics',
  'list_actions',
] as const
/** One of {@link INSTANCE_ACTIONS}. */
export type InstanceAction = (typeof INSTANCE_ACTIONS)[number]

/** A build not yet placed in a cell, as an instance record (BUILD, scheduling). */
export function recordFromSpec(spec: BuildSpec): InstanceRecord {
  return {
    uuid: spec.instanceUuid,
    name: spec.name,
    hostname: spec.hostname,
    projectId: spec.projectId,
    userId: spec.userId,
    cellPath: '',
    host: null,
    node: null,
    availabilityZone: spec.availabilityZone,
    flavor: spec.flavor,
    imageRef: spec.image.id,
    vmState: 'building',
    taskState: 'scheduling',
    powerState: 0,
    keyName: spec.keyName,
    metadata: spec.metadata,
    userData: spec.userData,
    description: spec.description,
    reservationId: spec.reservationId,
    launchIndex: spec.launchIndex,
    locked: false,
    lockedBy: null,
    lockedReason: null,
    configDrive: '',
    accessIpV4: spec.accessIpV4 ?? null,
    accessIpV6: spec.accessIpV6 ?? null,
    fault: null,
    version: 0,
    launchedAt: null,
    terminatedAt: null,
    createdAt: spec.createdAt,
    updatedAt: spec.createdAt,
    deleted: false,
    tags: spec.tags ?? [],
  }
}
