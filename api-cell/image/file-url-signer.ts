import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

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
const NONCE = /^[0-9a-f]{32}$/
const ROTATE = /^(0|[1-9][0-9]{0,5})$/
const INSTANCE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
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

  /**
   * The URLs that let a compute host store the bytes of snapshot image `imageId` once
   * (`PUT` to `uploadUrl`), or give up and delete the still-empty image (`DELETE` to the same URL,
   * signed apart), until `expiresAt`. Each carries a fresh `nonce`: the image listener accepts a
   * nonce once. `rotate` (backups) is signed too: after the upload, the listener keeps the newest
   * `rotate` backups of the instance and type.
   */
  signedUploadUrls(imageId: string, expiresAt: number, opts: { readonly rotate?: number } = {}): SignedUploadUrls {
    const expires = Math.floor(expiresAt / 1000)
    const path = filePath(imageId)
    const nonce = randomBytes(16).toString('hex')
    const rotate = opts.rotate === undefined ? '' : `&rotate=${opts.rotate}`
    const query = (method: 'PUT' | 'DELETE'): string =>
      `${this.#base}${path}?expires=${expires}&nonce=${nonce}${rotate}&signature=${this.#signUpload(method, path, expires, nonce, opts.rotate)}`
    return { uploadUrl: query('PUT'), abortUrl: query('DELETE'), nonce }
  }

  /**
   * Whether the raw query values sign an upload (`PUT`) or abort (`DELETE`) of image `imageId`
   * and have not expired. Answers the nonce (to be consumed once) and the rotation, or undefined.
   */
  verifyUpload(method: string, imageId: string, query: Readonly<Record<string, unknown>>): { nonce: string; rotate?: number } | undefined {
    if (method !== 'PUT' && method !== 'DELETE') return undefined
    const { expires, nonce, signature, rotate } = query
    if (typeof expires !== 'string' || !EXPIRES.test(expires)) return undefined
    if (typeof nonce !== 'string' || !NONCE.test(nonce)) return undefined
    if (typeof signature !== 'string' || !SIGNATURE.test(signature)) return undefined
    if (rotate !== undefined && (typeof rotate !== 'string' || !ROTATE.test(rotate))) return undefined
    const at = Number(expires)
    if (at * 1000 <= this.#clock()) return undefined
    const rot = rotate === undefined ? undefined : Number(rotate)
    const expected = Buffer.from(this.#signUpload(method, filePath(imageId), at, nonce, rot), 'hex')
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return undefined
    return { nonce, ...(rot === undefined ? {} : { rotate: rot }) }
  }

  /**
   * The URL that deletes shelved snapshot `imageId` of instance `instanceUuid` (`DELETE`), until
   * `expiresAt`: the compute host calls it once the instance is unshelved, as Nova deletes the
   * shelved image then. Only an image whose `instance_uuid` is that instance is deleted.
   */
  signedDiscardUrl(imageId: string, instanceUuid: string, expiresAt: number): string {
    const expires = Math.floor(expiresAt / 1000)
    const path = filePath(imageId)
    return `${this.#base}${path}?expires=${expires}&instance=${encodeURIComponent(instanceUuid)}&signature=${this.#signDiscard(path, expires, instanceUuid)}`
  }

  /** The instance uuid a discard URL of image `imageId` names, when signed and unexpired. */
  verifyDiscard(imageId: string, query: Readonly<Record<string, unknown>>): string | undefined {
    const { expires, instance, signature } = query
    if (typeof expires !== 'string' || !EXPIRES.test(expires)) return undefined
    if (typeof instance !== 'string' || !INSTANCE.test(instance)) return undefined
    if (typeof signature !== 'string' || !SIGNATURE.test(signature)) return undefined
    const at = Number(expires)
    if (at * 1000 <= this.#clock()) return undefined
    const expected = Buffer.from(this.#signDiscard(filePath(imageId), at, instance), 'hex')
    return timingSafeEqual(expected, Buffer.from(signature, 'hex')) ? instance : undefined
  }

  #signDiscard(path: string, expires: number, instance: string): string {
    return createHmac('sha256', this.#key).update(`DISCARD\n${path}\n${expires}\n${instance}`).digest('hex')
  }

  #sign(path: string, expires: number): string {
    return createHmac('sha256', this.#key).update(`GET\n${path}\n${expires}`).digest('hex')
  }

  #signUpload(method: 'PUT' | 'DELETE', path: string, expires: number, nonce: string, rotate: number | undefined): string {
    return createHmac('sha256', this.#key).update(`${method}\n${path}\n${expires}\n${nonce}\n${rotate ?? ''}`).digest('hex')
  }
}

/** A snapshot's upload capability (see {@link FileUrlSigner.signedUploadUrls}). */
export interface SignedUploadUrls {
  readonly uploadUrl: string
  readonly abortUrl: string
  readonly nonce: string
}

function filePath(imageId: string): string {
  return `/v2/images/${encodeURIComponent(imageId)}/file`
}
