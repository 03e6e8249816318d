import { createHash, randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import type { TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { AppError, InvalidError, NotFoundError } from '../../shared/errors.js'
import { ensurePrivateDirAsync, PRIVATE_FILE_MODE } from '../../shared/fs/private-files.js'

/** 413: the upload is larger than the image size cap. */
export class ImageTooLargeError extends AppError {
  readonly limitBytes: number
  constructor(limitBytes: number) {
    const message = `Image exceeds the storage quota: the limit is ${limitBytes} bytes.`
    super({ code: 'image_too_large', status: 413, message, fields: { limitBytes } })
    this.limitBytes = limitBytes
  }
}

/** What was written. */
export interface StoredFile {
  readonly size: number
  /** MD5 hex (Glance's legacy `checksum`). */
  readonly md5: string
  /** SHA-512 hex (`os_hash_value` with `os_hash_algo` sha512, Glance's default). */
  readonly sha512: string
  /** From the qcow2 header, or the size for raw; null when unknown. */
  readonly virtualSize: number | null
}

/** Anything the store can read image bytes from. */
export type ImageData = Readable | AsyncIterable<Uint8Array>

/** Glance's default image_size_cap: 1 TiB. */
export const DEFAULT_MAX_IMAGE_BYTES = 1024 ** 4

const ID = /^[0-9a-fA-F-]{36}$/

/**
 * Image bytes on a local filesystem, one file per image id under `dir`, the way Glance's file store
 * works. Writes go to a unique temporary file and are renamed into place only when complete, so a
 * reader never sees a partial image and a failed upload leaves nothing behind.
 */
export class ImageFileStore {
  readonly dir: string
  readonly maxBytes: number

  constructor(dir: string, options: { readonly maxBytes?: number } = {}) {
    this.dir = dir
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES
  }

  /** Streams `data` into the image's file while hashing it. Replaces an existing file. */
  async write(id: string, data: ImageData, diskFormat: string | null): Promise<StoredFile> {
    const target = this.pathOf(id)
    // Image bytes are the owners' data: private whatever the umask (the API serves them by policy).
    await ensurePrivateDirAsync(this.dir)
    const part = join(this.dir, `.${id}.${randomUUID()}.part`)
    const meter = new HashingMeter(this.maxBytes)
    try {
      await pipeline(data instanceof Readable ? data : Readable.from(data), meter, createWriteStream(part, { flags: 'wx', mode: PRIVATE_FILE_MODE }))
      await rename(part, target)
    } catch (err) {
      await rm(part, { force: true })
      throw err
    }
    return {
      size: meter.size,
      md5: meter.md5.digest('hex'),
      sha512: meter.sha512.digest('hex'),
      virtualSize: virtualSizeOf(meter.header, meter.size, diskFormat),
    }
  }

  /**
   * A stream of the image's bytes. The file is opened before this resolves, so a missing file is an
   * error here ({@link NotFoundError}), not in the middle of a response.
   */
  async open(id: string): Promise<Readable> {
    try {
      const handle = await open(this.pathOf(id), 'r')
      return handle.createReadStream()
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') throw new NotFoundError(`Image ${id} has no data.`)
      throw err
    }
  }

  /** Deletes the image's file; no error when it is already gone. */
  async remove(id: string): Promise<void> {
    await rm(this.pathOf(id), { force: true })
  }

  /** The file of image `id` (ids are UUIDs: nothing can escape `dir`). */
  pathOf(id: string): string {
    if (!ID.test(id)) throw new InvalidError(`invalid image id ${id}`)
    return join(this.dir, id)
  }
}

/** Counts, hashes, caps, and keeps the first bytes for format inspection. */
class HashingMeter extends Transform {
  readonly md5 = createHash('md5')
  readonly sha512 = createHash('sha512')
  size = 0
  header = Buffer.alloc(0)
  readonly #max: number

  constructor(max: number) {
    super()
    this.#max = max
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length
    if (this.size > this.#max) {
      done(new ImageTooLargeError(this.#max))
      return
    }
    if (this.header.length < 512) this.header = Buffer.concat([this.header, chunk.subarray(0, 512 - this.header.length)])
    this.md5.update(chunk)
    this.sha512.update(chunk)
    done(null, chunk)
  }
}

const QCOW2_MAGIC = 0x514649fb

/** The virtual disk size: from a qcow2 header (bytes 24-31, big-endian), the size itself for raw. */
export function virtualSizeOf(header: Buffer, size: number, diskFormat: string | null): number | null {
  if (diskFormat === 'raw') return size
  if (diskFormat === 'qcow2' && header.length >= 32 && header.readUInt32BE(0) === QCOW2_MAGIC) {
    const v = header.readBigUInt64BE(24)
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null
  }
  return null
}
