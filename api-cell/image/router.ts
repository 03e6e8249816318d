import { pipeline } from 'node:stream/promises'
import express from 'express'
import type { Request, RequestHandler, Response, Router } from 'express'
import { systemContext } from '../../shared/context.js'
import { ForbiddenError, InternalError, InvalidError, NotFoundError } from '../../shared/errors.js'
import { bodyDepthGuard, percentEncodingGuard } from '../../shared/http/request-guards.js'
import { contextOf, requestIdOf } from '../identity/auth.js'
import type { ErrorLogger } from '../identity/http-errors.js'
import type { FileUrlSigner } from './file-url-signer.js'
import { glanceErrorHandler, UnsupportedMediaTypeError } from './http-errors.js'
import { IMAGE_SCHEMA, IMAGES_SCHEMA } from './json-schemas.js'
import { parseListQuery } from './list-query.js'
import type { ImageDownload, ImageService } from './store.js'
import { signedUploadRoutes } from './signed-upload.js'
import { UsedNonces } from './upload-nonces.js'
import { renderImage } from './views.js'

/** What the image router needs. */
export interface ImageRouterDeps {
  readonly images: ImageService
  /** Base URL clients reach this listener at, e.g. `http://host:9292`. */
  readonly publicUrl: string
  /** Unexpected (5xx) errors are reported here. */
  readonly logger?: ErrorLogger
  /**
   * Authentication for everything but version discovery (`GET /`, `GET /versions`), usually
   * `authMiddleware(tokens)`. Leave it out when the listener authenticates before this router.
   */
  readonly auth?: RequestHandler
  /**
   * Accepts signed file URLs (see {@link FileUrlSigner}): `GET /v2/images/{id}/file` with a
   * `signature` query parameter is served without a token when the signature is valid and
   * unexpired, and is 403 otherwise. Without it, signatures are not looked at.
   */
  readonly signer?: FileUrlSigner
  /** Nonces of signed upload URLs already used (default: a fresh set for this router). */
  readonly usedNonces?: UsedNonces
}

/** The v2 minor versions this API answers as (Glance 25 "Zed" is at 2.16). */
const MINOR_VERSIONS = 16
const PATCH_MEDIA_TYPES = ['application/openstack-images-v2.1-json-patch', 'application/json-patch+json']

/**
 * The Glance v2 subset, mounted at the root of the image listener (port 9292). Everything but
 * `GET /`, `GET /versions` and signed file URLs (with `signer`) needs a token: pass `auth` (or
 * authenticate before this router); routes
 * read the caller from `res.locals.ctx`. Errors, the auth middleware's included, render with
 * {@link glanceErrorHandler}; unknown routes are 404.
 *
 * @example
 *   app.use(imageRouter({ images, publicUrl: 'http://host:9292', auth: authMiddleware(tokens) }))
 */
export function imageRouter(deps: ImageRouterDeps): Router {
  const base = deps.publicUrl.replace(/\/+$/, '')
  const { images } = deps
  const router = express.Router()
  const json = [express.json({ limit: '1mb', type: ['application/json'] }), bodyDepthGuard()]
  const patchJson = [express.json({ limit: '1mb', type: PATCH_MEDIA_TYPES }), bodyDepthGuard()]

  router.use((_req, res, next) => {
    res.setHeader('x-openstack-request-id', requestIdOf(res))
    next()
  })
  router.use(percentEncodingGuard())

  const versions = (): Record<string, unknown> => ({ versions: versionList(base) })
  router.get('/', (_req, res) => {
    res.status(300).json(versions())
  })
  router.get('/versions', (_req, res) => {
    res.json(versions())
  })

  const signer = deps.signer
  if (signer !== undefined) {
    // Before authentication: the signature is the credential (compute hosts hold no token).
    router.get('/v2/images/:id/file', async (req, res, next) => {
      if (req.query['signature'] === undefined) {
        next()
        return
      }
      const id = param(req, 'id')
      if (!signer.verify(id, req.query['expires'], req.query['signature'])) {
        throw new ForbiddenError('The signed image URL is invalid or has expired.')
      }
      await sendImageData(res, await images.download(systemContext(), id))
    })
    signedUploadRoutes(router, signer, images, deps.usedNonces ?? new UsedNonces())
  }

  if (deps.auth !== undefined) router.use(deps.auth)

  router.get('/v2/schemas/image', (_req, res) => {
    res.json(IMAGE_SCHEMA)
  })
  router.get('/v2/schemas/images', (_req, res) => {
    res.json(IMAGES_SCHEMA)
  })

  router.get('/v2/images', async (req, res) => {
    const page = await images.list(contextOf(res), parseListQuery(req.query as Record<string, unknown>))
    const params = new URLSearchParams(queryString(req))
    params.delete('marker')
    const first = params.size === 0 ? '/v2/images' : `/v2/images?${params.toString()}`
    const body: Record<string, unknown> = { images: page.images.map(renderImage), first, schema: '/v2/schemas/images' }
    if (page.nextMarker !== undefined) {
      params.set('marker', page.nextMarker)
      body.next = `/v2/images?${params.toString()}`
    }
    res.json(body)
  })

  router.post('/v2/images', ...json, async (req, res) => {
    const body: unknown = req.body
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InvalidError('The request body must be a JSON object describing the image.')
    }
    const image = await images.create(contextOf(res), body as Record<string, unknown>)
    res.status(201).location(`${base}/v2/images/${image.id}`).json(renderImage(image))
  })

  router.get('/v2/images/:id', async (req, res) => {
    res.json(renderImage(await images.get(contextOf(res), param(req, 'id'))))
  })

  router.patch('/v2/images/:id', ...patchJson, async (req, res) => {
    if (!req.is(PATCH_MEDIA_TYPES)) {
      throw new UnsupportedMediaTypeError(`Unsupported Content-Type: use ${PATCH_MEDIA_TYPES[0] ?? ''}.`)
    }
    res.json(renderImage(await images.update(contextOf(res), param(req, 'id'), req.body)))
  })

  router.delete('/v2/images/:id', async (req, res) => {
    await images.delete(contextOf(res), param(req, 'id'))
    res.status(204).end()
  })

  router.put('/v2/images/:id/file', async (req, res) => {
    if (!req.is('application/octet-stream')) {
      throw new UnsupportedMediaTypeError('Unsupported Content-Type: image data must be application/octet-stream.')
    }
    await images.upload(contextOf(res), param(req, 'id'), req)
    res.status(204).end()
  })

  router.get('/v2/images/:id/file', async (req, res) => {
    await sendImageData(res, await images.download(contextOf(res), param(req, 'id')))
  })

  router.put('/v2/images/:id/tags/:tag', async (req, res) => {
    await images.addTag(contextOf(res), param(req, 'id'), param(req, 'tag'))
    res.status(204).end()
  })

  router.delete('/v2/images/:id/tags/:tag', async (req, res) => {
    await images.removeTag(contextOf(res), param(req, 'id'), param(req, 'tag'))
    res.status(204).end()
  })

  router.use((_req, _res, next) => next(new NotFoundError('The resource could not be found.')))
  router.use(glanceErrorHandler(deps.logger === undefined ? {} : { logger: deps.logger }))
  return router
}

/** Glance's version list: v2.16 CURRENT down to v2.0 SUPPORTED, each linking to `<base>/v2/`. */
function versionList(base: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  for (let minor = MINOR_VERSIONS; minor >= 0; minor--) {
    const status = minor === MINOR_VERSIONS ? 'CURRENT' : 'SUPPORTED'
    out.push({ id: `v2.${minor}`, status, links: [{ rel: 'self', href: `${base}/v2/` }] })
  }
  return out
}

/** An image's bytes (200, with size and md5), or 204 for an image without data. */
async function sendImageData(res: Response, download: ImageDownload): Promise<void> {
  const { image, data } = download
  if (data === null) {
    res.status(204).end()
    return
  }
  res.status(200).setHeader('Content-Type', 'application/octet-stream')
  if (image.size !== null) res.setHeader('Content-Length', String(image.size))
  if (image.checksum !== null) res.setHeader('Content-MD5', image.checksum)
  await pipeline(data, res)
}

function param(req: Request, key: string): string {
  const v: unknown = req.params[key]
  if (typeof v !== 'string') throw new InternalError(`route parameter ${key} missing`)
  return v
}

function queryString(req: Request): string {
  const at = req.originalUrl.indexOf('?')
  return at < 0 ? '' : req.originalUrl.slice(at + 1)
}
