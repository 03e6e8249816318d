import type { Request, Router } from 'express'
import { systemContext } from '../../shared/context.js'
import { ForbiddenError, InternalError } from '../../shared/errors.js'
import type { FileUrlSigner } from './file-url-signer.js'
import { UnsupportedMediaTypeError } from './http-errors.js'
import type { ImageService } from './store.js'
import type { UsedNonces } from './upload-nonces.js'

/**
 * The routes of signed upload URLs, mounted before authentication: a compute host that snapshots
 * an instance holds no token, only the URL the API cell minted for that one image. Without a
 * `signature` the request goes on to the authenticated routes.
 *
 * - `PUT /v2/images/{id}/file?expires&nonce[&rotate]&signature`: stores the bytes (once: the nonce
 *   is consumed before anything is written); then, for a backup, rotates the instance's backups.
 * - `DELETE` on the same URL (signed for DELETE): the host gave up; a still-empty image is
 *   deleted, so a failed snapshot leaves no image behind.
 * - `DELETE /v2/images/{id}/file?expires&instance&signature` (a discard URL): the shelved snapshot
 *   of that instance is deleted once the instance is unshelved (idempotent).
 * Anything invalid, expired, replayed or signed for another image or method is 403, and changes
 * nothing.
 */
export function signedUploadRoutes(router: Router, signer: FileUrlSigner, images: ImageService, used: UsedNonces): void {
  const check = (req: Request, method: 'PUT' | 'DELETE'): { id: string; rotate?: number } => {
    const id = req.params['id']
    if (typeof id !== 'string') throw new InternalError('route parameter id missing')
    const ok = signer.verifyUpload(method, id, req.query as Record<string, unknown>)
    // A replay is refused even before the expiry: the nonce is consumed by the first use.
    if (ok === undefined || !used.consume(`${method}:${ok.nonce}`, Number(req.query['expires']) * 1000)) {
      throw new ForbiddenError('The signed upload URL is invalid, expired or already used.')
    }
    return { id, ...(ok.rotate === undefined ? {} : { rotate: ok.rotate }) }
  }
  router.put('/v2/images/:id/file', async (req, res, next) => {
    if (req.query['signature'] === undefined) {
      next()
      return
    }
    const { id, rotate } = check(req, 'PUT')
    if (!req.is('application/octet-stream')) throw new UnsupportedMediaTypeError('Unsupported Content-Type: image data must be application/octet-stream.')
    const image = await images.upload(systemContext(), id, req)
    const instanceUuid = image.properties['instance_uuid']
    const backupType = image.properties['backup_type']
    if (rotate !== undefined && instanceUuid !== undefined && backupType !== undefined) await images.rotateBackups(instanceUuid, backupType, rotate)
    res.status(204).end()
  })
  router.delete('/v2/images/:id/file', async (req, res, next) => {
    if (req.query['signature'] === undefined) {
      next()
      return
    }
    if (req.query['instance'] !== undefined) {
      // A discard URL: the shelved image of that instance, once it is unshelved.
      const id = req.params['id'] ?? ''
      const instance = signer.verifyDiscard(id, req.query as Record<string, unknown>)
      if (instance === undefined) throw new ForbiddenError('The signed URL is invalid or expired.')
      await images.discardSnapshot(id, instance)
      res.status(204).end()
      return
    }
    const { id } = check(req, 'DELETE')
    await images.abandon(id)
    res.status(204).end()
  })
}
