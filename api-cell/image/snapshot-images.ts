import type { RequestContext } from '../../shared/context.js'
import type { FileUrlSigner } from './file-url-signer.js'
import type { ImageService } from './store.js'

/** What a snapshot image is made for (Nova's createImage, createBackup, shelve). */
export interface SnapshotRequest {
  readonly name: string
  readonly instanceUuid: string
  /** The image the instance was booted from (Nova's `base_image_ref`). */
  readonly baseImageRef: string
  readonly kind: 'snapshot' | 'backup'
  readonly backupType?: string
  /** Backups: how many of this instance's backups of `backupType` to keep once this one is stored. */
  readonly rotation?: number
  /** Extra image properties (the request's `metadata`). */
  readonly metadata?: Readonly<Record<string, string>>
}

/** A queued snapshot image and the single-use capability to store its bytes. */
export interface SnapshotTarget {
  readonly imageId: string
  readonly uploadUrl: string
  readonly abortUrl: string
}

/**
 * The image side of snapshots for the compute API: creates the image (queued, owned by the
 * caller's project, as Nova's `_create_image`) and mints the signed upload URLs the compute host
 * stores the bytes with. See `signedUploadRoutes` for what the URLs allow.
 */
export interface SnapshotImages {
  create(ctx: RequestContext, req: SnapshotRequest): Promise<SnapshotTarget>
  /** Deletes a snapshot image still without bytes (the cell refused the action). */
  abandon(imageId: string): Promise<void>
  /** The URL that deletes the shelved image of an instance once it is unshelved. */
  discardUrl(imageId: string, instanceUuid: string): string
  /** Deletes the shelved image of an instance (the instance was deleted while shelved). */
  discard(imageId: string, instanceUuid: string): Promise<void>
}

/** {@link SnapshotImages} over the image service, with URLs valid for `ttlMs` (`clock`: epoch ms, tests). */
export function snapshotImages(images: ImageService, signer: FileUrlSigner, ttlMs: number, clock: () => number = Date.now): SnapshotImages {
  return {
    async create(ctx, req) {
      // As Nova's create_image: the request's metadata overrides instance_uuid, user_id and
      // image_type (Tempest snapshots with `image_type: test`); backup_type is the action's.
      const image = await images.create(ctx, {
        base_image_ref: req.baseImageRef,
        instance_uuid: req.instanceUuid,
        image_type: req.kind,
        ...(ctx.userId === undefined ? {} : { user_id: ctx.userId }),
        ...req.metadata,
        name: req.name,
        container_format: 'bare',
        disk_format: 'qcow2',
        ...(req.backupType === undefined ? {} : { backup_type: req.backupType }),
      })
      const urls = signer.signedUploadUrls(image.id, clock() + ttlMs, req.rotation === undefined ? {} : { rotate: req.rotation })
      return { imageId: image.id, uploadUrl: urls.uploadUrl, abortUrl: urls.abortUrl }
    },
    async abandon(imageId) {
      await images.abandon(imageId)
    },
    async discard(imageId, instanceUuid) {
      await images.discardSnapshot(imageId, instanceUuid)
    },
    discardUrl: (imageId, instanceUuid) => signer.signedDiscardUrl(imageId, instanceUuid, clock() + ttlMs),
  }
}
