import { createHmac, timingSafeEqual } from 'node:crypto'

/** How a {@link FileUrlSigner} is built. */
export interface FileUrlSignerOptions {
  /** The HMAC-SHA256 key; derive it with {@link fileUrlKey} rather than reusing another key as is. */
  readonly key: Buffer
  /** Base URL of the image listener, e.g. `http://host:9292`. */
  readonly publicUrl: string
  /** Epoch-ms clock (tests). */
  readonly clock?: () => number
}

const SIGNATURE = /^[0-9a-f]{64}$/
/** Canonical decimal only: `0017...` would sign the same number and so validate as a second spelling. */
const EXPIRES = /^[1-9][0-9]{0,14}$/

/**
 * The key for image file URLs, derived from the API cell's token secret: one secret to keep, but a
 * key of its own, so that a signature made for one purpose can never pass for the other.
 */
export function fileUrlKey(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('federation image file url v1').digest()
}

/**
 * Signed, expiring download URLs of image files (`GET /v2/images/{id}/file?expires=&signature=`),
 * in the manner of Swift's temp URLs. The URL is a capability for one image until `expires`
 * (epoch seconds): the API cell hands it to compute hosts inside a build, so that they fetch images
 * without holding a user's token or any credential of their own. Treat a URL like a password:
 * do not log it.
 *
 * @example
 *   const signer = new FileUrlSigner({ key: fileUrlKey(tokenSecret), publicUrl: 'http://host:9292' })
 *   const url = signer.signedFileUrl(image.id, Date.now() + 24 * 3600_000)
 */
export class FileUrlSigner {
  readonly #key: Buffer
  readonly #base: string
  readonly #clock: () => number

  constructor(options: FileUrlSignerOptions) {
    this.#key = options.key
    this.#base = options.publicUrl.replace(/\/+$/, '')
    this.#clock = options.clock ?? Date.now
  }

  /** The URL that lets anyone download image `imageId` until `expiresAt` (epoch ms, rounded down to seconds). */
  signedFileUrl(imageId: string, expiresAt: number): string {
    const expires = Math.floor(expiresAt / 1000)
    const path = filePath(imageId)
    return `${this.#base}${path}?expires=${expires}&signature=${this.#sign(path, expires)}`
  }

  /**
   * Whether `expires` and `signature` (raw query values) sign image `imageId` and have not expired.
   * Anything malformed is simply not valid.
   */
  verify(imageId: string, expires: unknown, signature: unknown): boolean {
    if (typeof expires !== 'string' || !EXPIRES.test(expires)) return false
    if (typeof signature !== 'string' || !SIGNATURE.test(signature)) return false
    const at = Number(expires)
    if (at * 1000 <= this.#clock()) return false
    const expected = Buffer.from(this.#sign(filePath(imageId), at), 'hex')
    return timingSafeEqual(expected, Buffer.from(signature, 'hex'))
  }

  #sign(path: string, expires: number): string {
    return createHmac('sha256', this.#key).update(`GET\n${path}\n${expires}`).digest('hex')
  }
}

function filePath(imageId: string): string {
  return `/v2/images/${encodeURIComponent(imageId)}/file`
}
