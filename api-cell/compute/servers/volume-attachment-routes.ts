import type { Request, Response } from 'express'
import { Router } from 'express'
import { z } from 'zod'
import { NotFoundError } from '../../../shared/errors.js'
import { isUuidLike } from '../../../shared/uuid.js'
import { contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import type { Microversion } from '../microversion.js'
import { atLeast, microversionOf } from '../microversion.js'
import { novaBoolean, parseBody } from '../parameter-types.js'
import { callerOf } from './instance-act.js'
import { novaTag } from './tag-routes.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

const volumeId = z.string().refine((v) => isUuidLike(v), "is not a 'uuid'")
const device = z.string().regex(/^(\/dev\/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$/, 'is not a valid device name').nullable()

/** Nova's `volume_attachment.create` schema per microversion (tag 2.49, delete_on_termination 2.79). */
const attachBody = (mv: Microversion) =>
  z.strictObject({
    volumeAttachment: z.strictObject({
      volumeId,
      device: device.optional(),
      ...(atLeast(mv, '2.49') ? { tag: novaTag.optional() } : {}),
      ...(atLeast(mv, '2.79') ? { delete_on_termination: novaBoolean.optional() } : {}),
    }),
  })

/** `PUT` (swap before 2.85; from 2.85 also `delete_on_termination` and the attachment's other fields). */
const updateBody = (mv: Microversion) =>
  z.strictObject({
    volumeAttachment: atLeast(mv, '2.85')
      ? z.strictObject({ volumeId, device: device.optional(), tag: novaTag.optional(), delete_on_termination: novaBoolean.optional(), id: z.string().optional(), serverId: z.string().optional() })
      : z.strictObject({ volumeId }),
  })

/**
 * `/servers/{id}/os-volume_attachments` without a block storage service (Cinder): the server has
 * no volume attached, so the list is empty and every volume named is not found, as Nova answers for
 * volumes Cinder does not have. Requests are validated per microversion first (2.49 tag, 2.79 and
 * 2.85 delete_on_termination), so bad input is still a 400.
 */
export function volumeAttachmentsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const server = async (req: Request, res: Response): Promise<string> => {
    const uuid = String(req.params['id'])
    await d.locator.get(contextOf(res), callerOf(res), uuid)
    return uuid
  }
  r.get(
    '/servers/:id/os-volume_attachments',
    wrap(async (req, res) => {
      await server(req, res)
      res.json({ volumeAttachments: [] })
    }),
  )
  r.post(
    '/servers/:id/os-volume_attachments',
    wrap(async (req, res) => {
      const body = parseBody(attachBody(microversionOf(res)), req.body)
      await server(req, res)
      throw new NotFoundError(`Volume ${body.volumeAttachment.volumeId} could not be found.`)
    }),
  )
  const notAttached = (validate: boolean) =>
    wrap(async (req, res) => {
      if (validate) parseBody(updateBody(microversionOf(res)), req.body)
      const uuid = await server(req, res)
      throw new NotFoundError(`Volume ${String(req.params['volumeId']).slice(0, 64)} is not attached to instance ${uuid}.`)
    })
  r.get('/servers/:id/os-volume_attachments/:volumeId', notAttached(false))
  r.put('/servers/:id/os-volume_attachments/:volumeId', notAttached(true))
  r.delete('/servers/:id/os-volume_attachments/:volumeId', notAttached(false))
  return r
}
