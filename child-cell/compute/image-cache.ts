import { execFile } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { chmod, copyFile, open, rename, rm, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import type { TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { promisify } from 'node:util'
import type { ImageFetch } from '../../shared/cell-link/build-spec.js'
import { AppError, InvalidError } from '../../shared/errors.js'
import { ensurePrivateDirAsync, PRIVATE_FILE_MODE } from '../../shared/fs/private-files.js'
import type { DiskFormat } from './virt/driver.js'

const run = promisify(execFile)

/** The image could not be downloaded (HTTP error, network, timeout). */
export class ImageDownloadError extends AppError {
  readonly imageId: string
  /** The HTTP status of the image API's answer; undefined when there was none. */
  readonly httpStatus: number | undefined
  constructor(imageId: string, reason: string, httpStatus?: number, cause?: unknown) {
    // The URL is a capability: it never goes into a message.
    super({ code: 'image_download_failed', status: 500, message: `Image ${imageId} could not be downloaded: ${reason}`, fields: { imageId, httpStatus }, cause })
    this.imageId = imageId
    this.httpStatus = httpStatus
  }
}

/** The downloaded bytes do not have the image's md5 checksum; nothing was kept. */
export class ImageChecksumError extends AppError {
  readonly imageId: string
  readonly expected: string
  readonly actual: string
  constructor(imageId: string, expected: string, actual: string) {
    super({
      code: 'image_checksum_mismatch',
      status: 500,
      message: `Image ${imageId} failed its checksum: expected md5 ${expected}, downloaded ${actual}`,
      fields: { imageId, expected, actual },
    })
    this.imageId = imageId
    this.expected = expected
    this.actual = actual
  }
}

/** An instance disk, ready for the driver. */
export interface PreparedDisk {
  /** `<instancesPath>/<uuid>/disk`. */
  readonly path: string
  /** What the hypervisor must read it as. */
  readonly format: DiskFormat
  /** The cached image it is an overlay of (qcow2 overlays only). */
  readonly backingFile?: string
}

/** How an {@link ImageCache} is built. */
export interface ImageCacheOptions {
  /** The host's instances directory: images go to `_base/` in it, disks to `<uuid>/disk`. */
  readonly instancesPath: string
  /**
   * The `qemu-img` to create qcow2 overlays with (default `qemu-img` on PATH); probed once per
   * process. `null`, or one that does not run: disks are sparse copies of the cached image.
   */
  readonly qemuImg?: string | null
  /** How long one image download may take. Default 30 minutes. */
  readonly downloadTimeoutMs?: number
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const GIB = 1024 ** 3
const QCOW2_MAGIC = 0x514649fb // "QFI\xfb"
const QCOW2_HEADER_BYTES = 72

/**
 * The image cache of one compute host, as Nova's libvirt driver keeps it: each image is fetched
 * once into `<instancesPath>/_base/<sha1 hex of the image id>`, and each instance disk,
 * `<instancesPath>/<uuid>/disk`, is created on top of it: a qcow2 overlay (`qemu-img create -b`)
 * when qemu-img is there, else a sparse copy.
 *
 * Guarantees:
 * - one download per image and host, however many spawns want it at once (an in-process lock per
 *   image; the host's compute is the only writer of its directory);
 * - a reader never sees a partial image: downloads go to a temporary file that is renamed into
 *   place only when complete and matching the md5 `checksum`; a failed or mismatching download
 *   leaves nothing behind;
 * - the backing format of an overlay is `qcow2` only for a `qcow2` image whose header is a real
 *   qcow2 header (the seeded cirros placeholder has the magic only), `raw` otherwise: bytes are
 *   never probed into a more powerful format, and a qcow2 image that names a backing file of its
 *   own (it could point at any file of the host) is refused.
 * Bases are kept when instances go: only the instance directory is removed. Disks are copies of
 * an empty overlay template per image and size (`_overlays/`), made once with `qemu-img create`.
 *
 * @example
 *   const cache = new ImageCache({ instancesPath: '/var/lib/federation/host-1/instances' })
 *   const disk = await cache.prepareDisk({ uuid, imageId, fetch: instance.image, rootGb: 1 })
 *   await driver.spawn({ ...args, diskPath: disk.path, diskFormat: disk.format })
 */
export class ImageCache {
  readonly instancesPath: string
  readonly #qemuImg: string | null
  readonly #timeoutMs: number
  readonly #downloads = new Map<string, Promise<void>>()
  readonly #templates = new Map<string, Promise<void>>()

  constructor(options: ImageCacheOptions) {
    this.instancesPath = options.instancesPath
    this.#qemuImg = options.qemuImg === undefined ? 'qemu-img' : options.qemuImg
    this.#timeoutMs = options.downloadTimeoutMs ?? 30 * 60_000
  }

  /** Where image `imageId` is cached: `_base/<sha1 hex of the id>`, as Nova names it. */
  basePath(imageId: string): string {
    return join(this.instancesPath, '_base', createHash('sha1').update(imageId).digest('hex'))
  }

  /** The directory of instance `uuid` (its disk and nothing else of ours). */
  instanceDir(uuid: string): string {
    if (!UUID.test(uuid)) throw new InvalidError(`invalid instance uuid ${JSON.stringify(uuid)}`)
    return join(this.instancesPath, uuid.toLowerCase())
  }

  /**
   * Fetches the image into the cache unless it is there already. Concurrent calls for one image
   * share one download. Rejects with {@link ImageDownloadError} or {@link ImageChecksumError}.
   */
  async fetchImage(imageId: string, fetch: ImageFetch): Promise<string> {
    const base = this.basePath(imageId)
    let pending = this.#downloads.get(base)
    if (pending === undefined) {
      pending = this.#download(imageId, base, fetch).finally(() => this.#downloads.delete(base))
      this.#downloads.set(base, pending)
    }
    await pending
    return base
  }

  /**
   * Creates (or recreates: a rebuild, a retried spawn) the disk of instance `uuid` on top of the
   * cached image, fetching the image first when needed. `rootGb` 0 gives the disk the image's own
   * size. On failure no disk is left behind (the directory may stay, empty).
   */
  async prepareDisk(args: { readonly uuid: string; readonly imageId: string; readonly fetch: ImageFetch; readonly rootGb: number }): Promise<PreparedDisk> {
    if (!Number.isInteger(args.rootGb) || args.rootGb < 0) throw new InvalidError('rootGb must be a whole number >= 0')
    const dir = this.instanceDir(args.uuid)
    const base = await this.fetchImage(args.imageId, args.fetch)
    const backingFormat = await formatOfBase(args.imageId, base, args.fetch.diskFormat)
    await ensurePrivateDirAsync(dir)
    const disk = join(dir, 'disk')
    await rm(disk, { force: true })
    try {
      const qemuImg = await this.#usableQemuImg()
      if (qemuImg !== undefined) {
        // A copy of the host's template overlay for this image and size: the very bytes
        // `qemu-img create` writes for this disk (it depends on nothing else), without starting a
        // process per spawn (a fork of this process cost ~30 ms of its event loop per build).
        await copyFile(await this.#overlayTemplate(qemuImg, base, backingFormat, args.rootGb), disk)
        await chmod(disk, PRIVATE_FILE_MODE)
        return { path: disk, format: 'qcow2', backingFile: base }
      }
      await sparseCopy(base, disk)
      // Without qemu-img only a raw disk can grow to the flavor's size (a qcow2 keeps the image's).
      if (backingFormat === 'raw' && args.rootGb > 0) await growTo(disk, args.rootGb * GIB)
      return { path: disk, format: backingFormat }
    } catch (err) {
      await rm(disk, { force: true })
      throw err
    }
  }

  /** The disk a previous spawn left for `uuid`, if any (a guest recreated at host start reuses it). */
  async existingDisk(uuid: string): Promise<PreparedDisk | undefined> {
    const path = join(this.instanceDir(uuid), 'disk')
    const header = await readHeader(path).catch(() => undefined)
    if (header === undefined) return undefined
    // Our own file: a qcow2 overlay we created, or a copy of a raw image.
    return { path, format: header.length >= 4 && header.readUInt32BE(0) === QCOW2_MAGIC ? 'qcow2' : 'raw' }
  }

  /**
   * Writes the instance's disk, flattened (its backing image merged in), to `out`: Nova's snapshot
   * (`qemu-img convert -O qcow2`). Without qemu-img, or for a raw disk, a sparse copy in the disk's
   * own format. Answers the format written; without a disk, `out` is an empty raw file. On
   * failure `out` is removed.
   */
  async flatten(uuid: string, out: string): Promise<DiskFormat> {
    const disk = await this.existingDisk(uuid)
    try {
      if (disk === undefined) {
        await (await open(out, 'wx', PRIVATE_FILE_MODE)).close()
        return 'raw'
      }
      const qemuImg = await this.#usableQemuImg()
      if (qemuImg !== undefined && disk.format === 'qcow2') {
        await run(qemuImg, ['convert', '-q', '-f', 'qcow2', '-O', 'qcow2', disk.path, out])
        await chmod(out, PRIVATE_FILE_MODE)
        return 'qcow2'
      }
      await sparseCopy(disk.path, out)
      return disk.format
    } catch (err) {
      await rm(out, { force: true })
      throw err
    }
  }

  /**
   * The rescue disk of instance `uuid` (`<uuid>/disk.rescue`), made like a root disk from the
   * rescue image: an overlay of the cached image, or a copy.
   */
  async prepareRescueDisk(args: { readonly uuid: string; readonly imageId: string; readonly fetch: ImageFetch }): Promise<PreparedDisk> {
    const dir = this.instanceDir(args.uuid)
    const base = await this.fetchImage(args.imageId, args.fetch)
    const backingFormat = await formatOfBase(args.imageId, base, args.fetch.diskFormat)
    await ensurePrivateDirAsync(dir)
    const disk = join(dir, 'disk.rescue')
    await rm(disk, { force: true })
    try {
      const qemuImg = await this.#usableQemuImg()
      if (qemuImg !== undefined) {
        await run(qemuImg, ['create', '-q', '-f', 'qcow2', '-F', backingFormat, '-b', base, disk])
        await chmod(disk, PRIVATE_FILE_MODE)
        return { path: disk, format: 'qcow2', backingFile: base }
      }
      await sparseCopy(base, disk)
      return { path: disk, format: backingFormat }
    } catch (err) {
      await rm(disk, { force: true })
      throw err
    }
  }

  /** Removes the rescue disk of `uuid` (after an unrescue). Idempotent. */
  async removeRescueDisk(uuid: string): Promise<void> {
    if (!UUID.test(uuid)) return
    await rm(join(this.instanceDir(uuid), 'disk.rescue'), { force: true })
  }

  /** Removes the instance directory (its disk); the cached image stays. Idempotent. */
  async removeInstance(uuid: string): Promise<void> {
    if (!UUID.test(uuid)) return
    await rm(this.instanceDir(uuid), { recursive: true, force: true })
  }

  /**
   * The empty qcow2 overlay of `base` (read as `backingFormat`) sized `rootGb` (0: the image's own
   * size), made once per host with `qemu-img create` in `_overlays/`, private like every state
   * file. An empty overlay's bytes depend only on those three (qemu-img writes no id or time
   * into it), so every instance disk is a copy of it. Made under a temporary name and renamed,
   * so a reader never sees a partial template; concurrent spawns share one `qemu-img` run.
   */
  async #overlayTemplate(qemuImg: string, base: string, backingFormat: DiskFormat, rootGb: number): Promise<string> {
    const dir = join(this.instancesPath, '_overlays')
    const template = join(dir, `${basename(base)}-${backingFormat}-${rootGb}`)
    let pending = this.#templates.get(template)
    if (pending === undefined) {
      pending = (async () => {
        if (await exists(template)) return
        await ensurePrivateDirAsync(dir)
        const part = `${template}.${randomUUID()}.part`
        try {
          await run(qemuImg, ['create', '-q', '-f', 'qcow2', '-F', backingFormat, '-b', base, part, ...(rootGb > 0 ? [`${rootGb}G`] : [])])
          // qemu-img creates with the process umask: narrow to the owner like every other state file.
          await chmod(part, PRIVATE_FILE_MODE)
          await rename(part, template)
        } finally {
          await rm(part, { force: true })
        }
      })().finally(() => this.#templates.delete(template))
      this.#templates.set(template, pending)
    }
    await pending
    return template
  }

  async #download(imageId: string, base: string, fetch: ImageFetch): Promise<void> {
    if (await exists(base)) return
    await ensurePrivateDirAsync(join(this.instancesPath, '_base'))
    const part = `${base}.${randomUUID()}.part`
    try {
      let res: Response
      try {
        res = await globalThis.fetch(fetch.downloadUrl, { signal: AbortSignal.timeout(this.#timeoutMs) })
      } catch (err) {
        throw new ImageDownloadError(imageId, err instanceof Error ? err.message : String(err), undefined, err)
      }
      if (res.status !== 200 || res.body === null) {
        await res.body?.cancel().catch(() => undefined)
        throw new ImageDownloadError(imageId, `the image API answered ${res.status}`, res.status)
      }
      const md5 = new Md5Meter()
      try {
        await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), md5, createWriteStream(part, { flags: 'wx', mode: PRIVATE_FILE_MODE }))
      } catch (err) {
        throw new ImageDownloadError(imageId, err instanceof Error ? err.message : String(err), 200, err)
      }
      const actual = md5.hash.digest('hex')
      if (fetch.checksum !== undefined && actual !== fetch.checksum.toLowerCase()) throw new ImageChecksumError(imageId, fetch.checksum, actual)
      await rename(part, base)
    } finally {
      await rm(part, { force: true })
    }
  }

  #usableQemuImg(): Promise<string | undefined> {
    const path = this.#qemuImg
    if (path === null) return Promise.resolve(undefined)
    let probe = qemuImgProbes.get(path)
    if (probe === undefined) {
      probe = run(path, ['--version']).then(
        () => true,
        () => false,
      )
      qemuImgProbes.set(path, probe)
    }
    return probe.then((ok) => (ok ? path : undefined))
  }
}

/** Whether each qemu-img path runs, probed once per process. */
const qemuImgProbes = new Map<string, Promise<boolean>>()

/**
 * The format to read a cached image as: `qcow2` only when the image says qcow2 and its header is
 * a real one (magic, version 2 or 3, a refcount table); `raw` for anything else. Exported for tests.
 */
export function backingFormatOf(header: Buffer, diskFormat: string | undefined): DiskFormat {
  if (diskFormat !== 'qcow2' || header.length < QCOW2_HEADER_BYTES || header.readUInt32BE(0) !== QCOW2_MAGIC) return 'raw'
  const version = header.readUInt32BE(4)
  const clusterBits = header.readUInt32BE(20)
  const refcountTableOffset = header.readBigUInt64BE(48)
  const refcountTableClusters = header.readUInt32BE(56)
  const valid = (version === 2 || version === 3) && clusterBits >= 9 && clusterBits <= 21 && refcountTableOffset > 0n && refcountTableClusters > 0
  return valid ? 'qcow2' : 'raw'
}

/** A real qcow2 header that names a backing file (bytes 8-15: its offset). */
function namesBackingFile(header: Buffer): boolean {
  return header.readBigUInt64BE(8) !== 0n
}

async function formatOfBase(imageId: string, base: string, diskFormat: string | undefined): Promise<DiskFormat> {
  const header = await readHeader(base)
  const format = backingFormatOf(header, diskFormat)
  if (format === 'qcow2' && namesBackingFile(header)) {
    throw new InvalidError(`Image ${imageId} is a qcow2 image with a backing file: refused`, { imageId })
  }
  return format
}

async function readHeader(path: string): Promise<Buffer> {
  const file = await open(path, 'r')
  try {
    const buf = Buffer.alloc(QCOW2_HEADER_BYTES)
    const { bytesRead } = await file.read(buf, 0, buf.length, 0)
    return buf.subarray(0, bytesRead)
  } finally {
    await file.close()
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

const BLOCK = 64 * 1024
const ZEROS = Buffer.alloc(BLOCK)

/** Copies `from` to a new file `to`, leaving all-zero blocks as holes. */
async function sparseCopy(from: string, to: string): Promise<void> {
  const src = await open(from, 'r')
  try {
    const dst = await open(to, 'wx', PRIVATE_FILE_MODE)
    try {
      const { size } = await src.stat()
      const buf = Buffer.alloc(BLOCK)
      for (let pos = 0; pos < size; ) {
        const { bytesRead } = await src.read(buf, 0, BLOCK, pos)
        if (bytesRead === 0) break
        const chunk = buf.subarray(0, bytesRead)
        if (!chunk.equals(ZEROS.subarray(0, bytesRead))) await dst.write(chunk, 0, bytesRead, pos)
        pos += bytesRead
      }
      await dst.truncate(size)
    } finally {
      await dst.close()
    }
  } finally {
    await src.close()
  }
}

/** Extends a raw disk to `bytes` (sparse); never shrinks it. */
async function growTo(path: string, bytes: number): Promise<void> {
  const file = await open(path, 'r+')
  try {
    if ((await file.stat()).size < bytes) await file.truncate(bytes)
  } finally {
    await file.close()
  }
}

/** Hashes what flows through. */
class Md5Meter extends Transform {
  readonly hash = createHash('md5')

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk)
    done(null, chunk)
  }
}
