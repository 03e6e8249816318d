import { createHash, randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import type { Kysely } from 'kysely'
import { systemContext } from '../../shared/context.js'
import type { RequestContext } from '../../shared/context.js'
import { isDuplicateKey, now } from '../../shared/db/database.js'
import { ConflictError, ForbiddenError, InvalidError, NotFoundError } from '../../shared/errors.js'
import { isUuid } from '../../shared/uuid.js'
import { CIRROS, cirrosPlaceholder } from './cirros.js'
import { assertWritable, checkProperty, keyKind, setAttribute, setProperty, withChanges } from './image-attributes.js'
import type { ImageChanges } from './image-attributes.js'
import { ImageFileStore } from './image-file-store.js'
import type { ImageData } from './image-file-store.js'
import { selectPage } from './image-list.js'
import type { ImageListQuery, ImagePage } from './image-list.js'
import { fromRow, toRow } from './image-model.js'
import type { Image, SettableAttribute } from './image-model.js'
import { applyPatch } from './image-patch.js'
import { checkImageQuotas } from './image-quotas.js'
import { canModify, canSee, viewerOf } from './image-visibility.js'
import type { Viewer } from './image-visibility.js'
import type { ImageTables } from './schema.js'

/** How the image service is built. */
export interface ImageServiceOptions {
  /** The API database (image tables migrated). */
  readonly db: Kysely<ImageTables>
  /** Directory of image files (created on first upload). */
  readonly storeDir: string
  /** Upload size cap in bytes (Glance's image_size_cap); default 1 TiB. */
  readonly maxImageBytes?: number
  /** Epoch-ms clock (tests). */
  readonly clock?: () => number
}

/** A download: the metadata, and the bytes unless the image has none yet. */
export interface ImageDownload {
  readonly image: Image
  /** Null for an image without data (Glance answers 204). */
  readonly data: Readable | null
}


/**
 * Glance v2 semantics over the `images` table and a local file store. Every call takes the caller's
 * {@link RequestContext}: its `projectId` and `roles` (admin) decide visibility (see
 * image-visibility.ts). An image the caller may not see is a 404, never a 403.
 *
 * @example
 *   const images = new ImageService({ db, storeDir: '/var/lib/federation/images' })
 *   const image = await images.get(ctx, imageRef)   // compute validates imageRef at boot
 */
export class ImageService {
  readonly #db: Kysely<ImageTables>
  readonly #files: ImageFileStore
  readonly #clock: () => number

  constructor(options: ImageServiceOptions) {
    this.#db = options.db
    this.#files = new ImageFileStore(options.storeDir, options.maxImageBytes === undefined ? {} : { maxBytes: options.maxImageBytes })
    this.#clock = options.clock ?? now
  }

  /** The image, when the caller may see it; otherwise {@link NotFoundError}. */
  async get(ctx: RequestContext, id: string): Promise<Image> {
    const image = await this.#find(id)
    if (image === undefined || !canSee(viewerOf(ctx), image)) throw notFound(id)
    return image
  }

  /** One page of the images the caller may list (see {@link ImageListQuery}). */
  async list(ctx: RequestContext, query: ImageListQuery = {}): Promise<ImagePage> {
    const viewer = viewerOf(ctx)
    // Cheap column filters in SQL; visibility, properties, sorting and paging in selectPage.
    let q = this.#db.selectFrom('images').selectAll()
    if (query.name !== undefined) q = q.where('name', '=', query.name)
    if (query.status !== undefined) q = q.where('status', '=', query.status)
    if (query.owner !== undefined) q = q.where('owner', '=', query.owner)
    if (query.visibility !== undefined && query.visibility !== 'all') q = q.where('visibility', '=', query.visibility)
    if (!viewer.isAdmin) {
      const projectId = viewer.projectId ?? ''
      q = q.where((eb) => eb.or([eb('visibility', 'in', ['public', 'community']), eb('owner', '=', projectId)]))
    }
    const rows = await q.execute()
    return selectPage(rows.map(fromRow), viewer, query)
  }

  /**
   * Creates a queued image from a Glance create body: core attributes, plus any other key as a custom
   * property (string values only). Read-only keys are 403; `visibility: public` needs admin.
   */
  async create(ctx: RequestContext, body: Readonly<Record<string, unknown>>): Promise<Image> {
    const viewer = viewerOf(ctx)
    let id: string = randomUUID()
    const changes: ImageChanges = {}
    const properties: Record<string, string> = {}
    for (const [key, value] of Object.entries(body)) {
      if (key === 'id') {
        if (!isUuid(value)) throw new InvalidError(`Invalid id: ${String(value)}: must be a UUID.`)
        id = value.toLowerCase()
        continue
      }
      assertWritable(key)
      if (keyKind(key) === 'settable') setAttribute(changes, key as SettableAttribute, value)
      else setProperty(properties, key, checkProperty(key, value))
    }
    checkPrivileges(viewer, changes, viewer.projectId ?? null)
    const t = this.#clock()
    const blank: Image = {
      id,
      name: null,
      status: 'queued',
      visibility: 'shared',
      containerFormat: null,
      diskFormat: null,
      size: null,
      virtualSize: null,
      checksum: null,
      osHashAlgo: null,
      osHashValue: null,
      minDisk: 0,
      minRam: 0,
      protected: false,
      osHidden: false,
      owner: viewer.projectId ?? null,
      tags: [],
      properties,
      createdAt: t,
      updatedAt: t,
    }
    const image = withChanges(blank, changes, t)
    checkImageQuotas(image)
    try {
      await this.#db.insertInto('images').values(toRow(image)).execute()
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConflictError(`Image with identifier ${id} already exists!`)
      throw err
    }
    return image
  }

  /** Applies a v2.1 JSON-patch document (see image-patch.ts). Owner or admin only. */
  async update(ctx: RequestContext, id: string, patch: unknown): Promise<Image> {
    return this.#modify(ctx, id, (image) => applyPatch(image, patch))
  }

  /** Adds a tag (idempotent). */
  async addTag(ctx: RequestContext, id: string, tag: string): Promise<Image> {
    return this.#modify(ctx, id, (image) => {
      const changes: ImageChanges = {}
      setAttribute(changes, 'tags', [...image.tags, tag])
      return changes
    })
  }

  /** Removes a tag; 404 when the image does not have it. */
  async removeTag(ctx: RequestContext, id: string, tag: string): Promise<Image> {
    return this.#modify(ctx, id, (image) => {
      if (!image.tags.includes(tag)) throw new NotFoundError(`Tag ${tag} not found on image ${id}.`)
      return { tags: image.tags.filter((t) => t !== tag) }
    })
  }

  /**
   * Stores the image's bytes: queued -> saving -> active, with size, md5 `checksum` and sha512
   * `os_hash_value` computed while writing. A second upload, or one racing another, is 409; a failed
   * upload puts the image back to queued and leaves no file.
   */
  async upload(ctx: RequestContext, id: string, data: ImageData): Promise<Image> {
    const image = await this.get(ctx, id)
    if (!canModify(viewerOf(ctx), image)) throw new ForbiddenError(`You are not authorized to upload data to image ${id}.`)
    const claimed = await this.#db
      .updateTable('images')
      .set({ status: 'saving', updated_at: this.#clock() })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .executeTakeFirst()
    if (Number(claimed.numUpdatedRows) === 0) {
      throw new ConflictError(`Image status transition from ${image.status} to saving is not allowed.`)
    }
    let stored
    try {
      stored = await this.#files.write(id, data, image.diskFormat)
    } catch (err) {
      await this.#db.updateTable('images').set({ status: 'queued' }).where('id', '=', id).where('status', '=', 'saving').execute()
      throw err
    }
    const done = await this.#db
      .updateTable('images')
      .set({
        status: 'active',
        size: stored.size,
        virtual_size: stored.virtualSize,
        checksum: stored.md5,
        os_hash_algo: 'sha512',
        os_hash_value: stored.sha512,
        updated_at: this.#clock(),
      })
      .where('id', '=', id)
      .where('status', '=', 'saving')
      .executeTakeFirst()
    if (Number(done.numUpdatedRows) === 0) {
      // Deleted while we were writing: do not leave an orphan file behind.
      await this.#files.remove(id)
      throw new ConflictError(`Image ${id} was deleted during the upload.`)
    }
    return this.get(ctx, id)
  }

  /** The image's bytes, for a caller who may see it. */
  async download(ctx: RequestContext, id: string): Promise<ImageDownload> {
    const image = await this.get(ctx, id)
    if (image.status === 'deactivated' && !viewerOf(ctx).isAdmin) {
      throw new ForbiddenError('The requested image has been deactivated. Image data download is forbidden.')
    }
    if (image.status !== 'active') return { image, data: null }
    return { image, data: await this.#files.open(id) }
  }

  /** Deletes metadata and bytes. Owner or admin; a protected image is 403. */
  async delete(ctx: RequestContext, id: string): Promise<void> {
    const image = await this.get(ctx, id)
    if (!canModify(viewerOf(ctx), image)) throw new ForbiddenError(`You are not authorized to delete image ${id}.`)
    if (image.protected) throw new ForbiddenError(`Image ${id} is protected and cannot be deleted.`)
    await this.#db.deleteFrom('images').where('id', '=', id).execute()
    await this.#files.remove(id)
  }

  /**
   * Deletes an image that never got bytes (`queued`): a snapshot whose compute host gave up.
   * An image with data (or being written) is left alone. Answers whether one was deleted.
   */
  async abandon(id: string): Promise<boolean> {
    const res = await this.#db.deleteFrom('images').where('id', '=', id).where('status', '=', 'queued').executeTakeFirst()
    return Number(res.numDeletedRows) === 1
  }

  /**
   * Deletes snapshot `id` when it is one of instance `instanceUuid` (its `instance_uuid`
   * property): the shelved image, once the instance is unshelved. Anything else is left alone.
   */
  async discardSnapshot(id: string, instanceUuid: string): Promise<boolean> {
    const image = await this.#find(id)
    if (image === undefined || image.properties['instance_uuid'] !== instanceUuid || image.protected) return false
    await this.#db.deleteFrom('images').where('id', '=', image.id).execute()
    await this.#files.remove(image.id)
    return true
  }

  /**
   * Nova's backup rotation: of the backups (`image_type` `backup`) of `instanceUuid` with
   * `backup_type`, keeps the newest `keep` and deletes the rest. Answers the ids deleted.
   */
  async rotateBackups(instanceUuid: string, backupType: string, keep: number): Promise<string[]> {
    const rows = await this.#db.selectFrom('images').selectAll().where('status', 'in', ['active', 'queued', 'saving']).execute()
    const backups = rows
      .map(fromRow)
      .filter((i) => i.properties['image_type'] === 'backup' && i.properties['instance_uuid'] === instanceUuid && i.properties['backup_type'] === backupType)
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
    const gone: string[] = []
    for (const old of backups.slice(keep)) {
      await this.#db.deleteFrom('images').where('id', '=', old.id).execute()
      await this.#files.remove(old.id)
      gone.push(old.id)
    }
    return gone
  }

  /**
   * Ensures a public `cirros` image (bare/qcow2) owned by `ownerProjectId` exists and has data.
   * Idempotent and safe to run from several processes: the id is derived from the owner, an existing
   * `cirros` of that owner is reused, and a half-seeded (queued) one is completed. `data` replaces the
   * deterministic placeholder bytes (see cirros.ts) with a real image file.
   */
  async seedCirros(ownerProjectId: string, options: { readonly data?: () => ImageData } = {}): Promise<Image> {
    const ctx = systemContext()
    const existing = await this.#db
      .selectFrom('images')
      .selectAll()
      .where('name', '=', CIRROS.name)
      .where('owner', '=', ownerProjectId)
      .orderBy('created_at')
      .executeTakeFirst()
    let image = existing === undefined ? undefined : fromRow(existing)
    if (image === undefined) {
      const id = uuidFrom(`cirros:${ownerProjectId}`)
      try {
        image = await this.create(ctx, {
          id,
          name: CIRROS.name,
          visibility: 'public',
          container_format: CIRROS.containerFormat,
          disk_format: CIRROS.diskFormat,
          owner: ownerProjectId,
        })
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err
        image = await this.get(ctx, id)
      }
    }
    if (image.status === 'queued') {
      const data = options.data?.() ?? Readable.from([cirrosPlaceholder()])
      try {
        image = await this.upload(ctx, image.id, data)
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err
        image = await this.get(ctx, image.id) // another process is uploading it
      }
    }
    return image
  }

  async #find(id: string): Promise<Image | undefined> {
    if (!isUuid(id)) return undefined // names and garbage are simply not found
    const row = await this.#db.selectFrom('images').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst()
    return row === undefined ? undefined : fromRow(row)
  }

  async #modify(ctx: RequestContext, id: string, change: (image: Image) => ImageChanges): Promise<Image> {
    const viewer = viewerOf(ctx)
    const image = await this.get(ctx, id)
    if (!canModify(viewer, image)) throw new ForbiddenError(`You are not authorized to modify image ${id}.`)
    const changes = change(image)
    checkPrivileges(viewer, changes, image.owner)
    const updated = withChanges(image, changes, this.#clock())
    checkImageQuotas(updated, image)
    const row = toRow(updated)
    // Only user-settable columns: an upload may be moving status, size and hashes concurrently.
    await this.#db
      .updateTable('images')
      .set({
        name: row.name,
        visibility: row.visibility,
        container_format: row.container_format,
        disk_format: row.disk_format,
        min_disk: row.min_disk,
        min_ram: row.min_ram,
        protected: row.protected,
        os_hidden: row.os_hidden,
        owner: row.owner,
        tags: row.tags,
        properties: row.properties,
        updated_at: row.updated_at,
      })
      .where('id', '=', image.id)
      .execute()
    return this.get(ctx, id)
  }
}

/** Glance's default policy: only admins publicize or give images away. */
function checkPrivileges(viewer: Viewer, changes: ImageChanges, currentOwner: string | null): void {
  if (viewer.isAdmin) return
  if (changes.visibility === 'public') throw new ForbiddenError('You are not authorized to complete publicize_image action.')
  if (changes.owner !== undefined && changes.owner !== currentOwner) {
    throw new ForbiddenError('You are not permitted to change the owner of an image.')
  }
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`No image found with ID ${id}`, { imageId: id })
}

/** A UUID (version-5 layout) derived from `name`: the same name always gives the same id. */
function uuidFrom(name: string): string {
  const h = createHash('sha1').update(`federation-image:${name}`).digest()
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80
  const x = h.subarray(0, 16).toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
}
