import type { Request, Response } from 'express'
import { Router } from 'express'
import { NotFoundError } from '../../../shared/errors.js'
import { contextOf } from '../../identity/auth.js'
import type { Image } from '../../image/image-model.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { linkBase } from '../request-scope.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Glance status → the proxy's (Nova's images view builder); anything else is UNKNOWN. */
const STATUS: Readonly<Record<string, string>> = { active: 'ACTIVE', queued: 'SAVING', saving: 'SAVING', deleted: 'DELETED', pending_delete: 'DELETED', killed: 'ERROR' }
const PROGRESS: Readonly<Record<string, number>> = { queued: 25, saving: 50, active: 100 }

/** Nova's image proxy dates: seconds, `Z`. */
const proxyTime = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}Z`

const TRUE_WORDS = new Set(['1', 't', 'true', 'on', 'y', 'yes'])

/** One image as Nova's `GET /images/{id}` renders it. */
export function proxyImageView(img: Image, base: { versioned: string; unversioned: string }, glanceUrl: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: img.id,
    name: img.name,
    minRam: img.minRam,
    minDisk: img.minDisk,
    metadata: { ...img.properties },
    created: proxyTime(img.createdAt),
    updated: proxyTime(img.updatedAt),
    status: STATUS[img.status] ?? 'UNKNOWN',
    progress: PROGRESS[img.status] ?? 0,
    'OS-EXT-IMG-SIZE:size': img.size,
    links: [
      { rel: 'self', href: `${base.versioned}/images/${img.id}` },
      { rel: 'bookmark', href: `${base.unversioned}/images/${img.id}` },
      { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${glanceUrl}/images/${img.id}` },
    ],
  }
  const instanceUuid = img.properties['instance_uuid']
  if (instanceUuid !== undefined) {
    out['server'] = {
      id: instanceUuid,
      links: [
        { rel: 'self', href: `${base.versioned}/servers/${instanceUuid}` },
        { rel: 'bookmark', href: `${base.unversioned}/servers/${instanceUuid}` },
      ],
    }
  }
  const autoDisk = img.properties['auto_disk_config']
  if (autoDisk !== undefined) out['OS-DCF:diskConfig'] = TRUE_WORDS.has(autoDisk.trim().toLowerCase()) ? 'AUTO' : 'MANUAL'
  return out
}

/**
 * Nova's deprecated image proxy, `GET` / `DELETE /images/{id}` (microversions up to 2.35; from
 * 2.36 on these are 404 as in Nova). Reads and deletes go to the image service as the caller, so
 * what the caller may not see is 404 and what it may not delete is 403.
 */
export function imagesProxyRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const proxy = (res: Response) => {
    if (d.imageProxy === undefined || atLeast(microversionOf(res), '2.36')) throw new NotFoundError('The resource could not be found.')
    return d.imageProxy
  }
  r.get(
    '/images/:id',
    wrap(async (req, res) => {
      const p = proxy(res)
      const img = await p.get(contextOf(res), String(req.params['id']))
      res.json({ image: proxyImageView(img, linkBase(req, res), p.publicUrl) })
    }),
  )
  r.delete(
    '/images/:id',
    wrap(async (req, res) => {
      await proxy(res).delete(contextOf(res), String(req.params['id']))
      res.status(204).end()
    }),
  )
  return r
}
