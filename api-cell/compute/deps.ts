import type { Kysely } from 'kysely'
import type { Logger } from '../../shared/logging.js'
import type { Cell0Store } from '../cells/cell0.js'
import type { CellTree } from '../cells/cell-tree.js'
import type { ComputeTables } from '../db/compute-schema.js'
import type { RequestContext } from '../../shared/context.js'
import type { Image } from '../image/image-model.js'
import type { SnapshotImages } from '../image/snapshot-images.js'
import type { BuildDispatcher, BuildQueue } from '../scheduler/build-dispatcher.js'
import type { UnshelveMover } from '../scheduler/unshelve-mover.js'
import type { PortAllocator } from '../network/allocator.js'
import type { ConsoleService } from './servers/console-routes.js'
import type { InstanceLocator } from './servers/locator.js'
import type { CrossCellMoves, TargetRanker } from './cross-cell/saga.js'
import type { CrossCellRule } from './cross-cell/targets.js'
import type { NovaSecurityGroups } from './security-groups/instance-ports.js'

/** An image as the compute API needs it for a boot. */
export interface BootImage {
  readonly id: string
  readonly name: string
  readonly status: string
  readonly minDisk: number
  readonly minRam: number
  readonly properties: Readonly<Record<string, string>>
  /**
   * A signed, expiring URL compute hosts download the bytes from (active images only; see
   * `BuildImage.downloadUrl` in shared/cell-link/build-spec.ts).
   */
  readonly downloadUrl?: string
  /** MD5 hex of the bytes. */
  readonly checksum?: string
  /** Glance's `disk_format`. */
  readonly diskFormat?: string
}

/** Looks an image up as the caller may see it; undefined when missing or invisible. */
export type ImageLookup = (caller: { projectId: string; isAdmin: boolean; roles: readonly string[]; userId: string }, id: string) => Promise<BootImage | undefined>

/** What the compute API routes work with. */
export interface ComputeDeps {
  readonly db: Kysely<ComputeTables>
  readonly tree: CellTree
  readonly cell0: Cell0Store
  /** The global scheduler (its ranking of regions; builds go to {@link ComputeDeps.builds}). */
  readonly dispatcher: BuildDispatcher
  /** Accepted builds go here (the dispatcher, or a forwarder to the API worker that dispatches). */
  readonly builds: BuildQueue
  readonly locator: InstanceLocator
  readonly images: ImageLookup
  readonly log: Logger
  /** Region names, for validating region-scoped endpoints. */
  readonly regions: readonly string[]
  /** Snapshot images (createImage, createBackup, shelve); without it those actions are 400. */
  readonly snapshots?: SnapshotImages
  /**
   * Unshelves into another cell (a saga kept in the API DB); without it an offloaded instance is
   * unshelved in its own cell only.
   */
  readonly unshelveMover?: UnshelveMover
  /** The image service behind Nova's image proxy (`/images/{id}`, up to 2.35); without it those are 404. */
  readonly imageProxy?: ImageProxy
  /** Cross-cell cold migration and resize; without it moves stay within the instance's cell. */
  readonly crossCell?: CrossCell
  /** Remote consoles (tokens and each region's proxy); without it every console request is 400. */
  readonly consoles?: ConsoleService
  /**
   * The network service's security groups, behind Nova's proxies and the server's security group
   * routes and actions; without it those are 404 (proxies) and 400 (actions), as before networks.
   */
  readonly securityGroups?: NovaSecurityGroups
  /**
   * The network service's allocator: ports for each server before its build goes down, released
   * on delete, shown as `addresses`. Without it servers have no addresses (as before networks).
   */
  readonly network?: PortAllocator
}

/** What cross-cell moves need (see cross-cell/saga.ts). */
export interface CrossCell {
  readonly moves: CrossCellMoves
  /** Target cells for a flavor, best first. */
  readonly targets: TargetRanker
  /** Who may have a move fall back to another cell when its own has no valid host. */
  readonly rule: CrossCellRule
}

/** What Nova's image proxy reaches of the image service, as the caller. */
export interface ImageProxy {
  get(ctx: RequestContext, id: string): Promise<Image>
  delete(ctx: RequestContext, id: string): Promise<void>
  /** The image service's public URL (the `alternate` link). */
  readonly publicUrl: string
}
