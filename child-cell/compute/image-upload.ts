import { createReadStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { ensurePrivateDirAsync } from '../../shared/fs/private-files.js'
import type { ImageCache } from './image-cache.js'

/**
 * Where a compute host stores a snapshot: a signed, single-use upload URL the API cell minted for
 * that one image, and the URL that deletes the still-empty image when the host gives up. The host
 * holds no token and no database credential; treat both URLs like passwords (never logged).
 */
export interface ImageUploadTarget {
  readonly imageId: string
  readonly uploadUrl: string
  readonly abortUrl: string
}

/** The image API refused or failed the upload. */
export class ImageUploadError extends Error {
  readonly httpStatus: number | undefined
  constructor(imageId: string, reason: string, httpStatus?: number) {
    super(`Snapshot image ${imageId} could not be uploaded: ${reason}`)
    this.name = 'ImageUploadError'
    this.httpStatus = httpStatus
  }
}

/**
 * Flattens the instance's disk into a temporary file under `<instancesPath>/_snapshots` and PUTs
 * it to the upload URL. On any failure the image is abandoned (the abort URL deletes the
 * still-queued image), so no half image is left, and the temporary file is always removed.
 * Without an image cache (no disks on this host) an empty image is uploaded.
 */
export async function uploadSnapshot(images: ImageCache | undefined, uuid: string, target: ImageUploadTarget, timeoutMs = 30 * 60_000): Promise<void> {
  const dir = images === undefined ? undefined : join(images.instancesPath, '_snapshots')
  const part = dir === undefined ? undefined : join(dir, `${target.imageId}.part`)
  try {
    let body: Readable
    let size = 0
    if (images !== undefined && dir !== undefined && part !== undefined) {
      await ensurePrivateDirAsync(dir)
      await rm(part, { force: true })
      await images.flatten(uuid, part)
      size = (await stat(part)).size
      body = createReadStream(part)
    } else body = Readable.from([])
    let res: Response
    try {
      res = await fetch(target.uploadUrl, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body: Readable.toWeb(body) as ReadableStream<Uint8Array>,
        duplex: 'half',
        signal: AbortSignal.timeout(timeoutMs),
      } as RequestInit)
    } catch (err) {
      throw new ImageUploadError(target.imageId, err instanceof Error ? err.message : String(err))
    }
    await res.body?.cancel().catch(() => undefined)
    if (res.status !== 204) throw new ImageUploadError(target.imageId, `the image API answered ${res.status}`, res.status)
  } catch (err) {
    await fetch(target.abortUrl, { method: 'DELETE', signal: AbortSignal.timeout(10_000) })
      .then((r) => r.body?.cancel())
      .catch(() => undefined)
    throw err
  } finally {
    if (part !== undefined) await rm(part, { force: true })
  }
}
