import type { Request, Response } from 'express'
import { Router } from 'express'
import { z } from 'zod'
import type { InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { authOf, contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import { novaMetadata, parseBody } from '../parameter-types.js'
import { checkMetadataItems } from '../quotas/boot-quota.js'
import { actOnInstance, callerOf, isRecord } from './instance-act.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** `PUT`/`POST /servers/{id}/metadata` (Nova's `server_metadata.create` / `update_all`). */
const metadataBody = z.strictObject({ metadata: novaMetadata })

/** `PUT /servers/{id}/metadata/{key}`: exactly one item (Nova's `server_metadata.update`). */
const metaItemBody = z.strictObject({
  meta: novaMetadata.refine((m) => Object.keys(m).length === 1, 'must have exactly one property'),
})

/**
 * The server metadata API: `GET/POST/PUT /servers/{id}/metadata` and
 * `GET/PUT/DELETE /servers/{id}/metadata/{key}`. Reads come from the owning cell's record; every
 * change goes DOWN to the owning cell as the `set_metadata` instance action (the leaf checks the
 * state machine and merges under its version check) and comes back UP through the outbox. The
 * `metadata_items` quota is checked before anything is sent (403, nothing changed).
 */
export function serverMetadataRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const current = async (res: Response, uuid: string): Promise<Readonly<Record<string, string>>> =>
    (await d.locator.get(contextOf(res), callerOf(res), uuid)).record.metadata
  const quota = async (res: Response, items: number): Promise<void> => {
    const a = authOf(res)
    await checkMetadataItems(d.db, a.projectId, a.userId, items)
  }
  /** Sends the change down; answers the metadata the leaf recorded. */
  const change = async (res: Response, uuid: string, args: Record<string, unknown>): Promise<Readonly<Record<string, string>>> => {
    const result = await actOnInstance(d, res, uuid, 'set_metadata', args)
    return isRecord(result) ? (result as InstanceRecord).metadata : {}
  }

  r.get(
    '/servers/:id/metadata',
    wrap(async (req, res) => {
      res.json({ metadata: await current(res, String(req.params['id'])) })
    }),
  )
  const setAll = (replace: boolean) =>
    wrap(async (req, res) => {
      const md = parseBody(metadataBody, req.body).metadata
      const uuid = String(req.params['id'])
      const before = await current(res, uuid)
      await quota(res, Object.keys(replace ? md : { ...before, ...md }).length)
      const after = await change(res, uuid, { metadata: md, mode: replace ? 'replace' : 'merge' })
      res.json({ metadata: replace ? md : after })
    })
  r.post('/servers/:id/metadata', setAll(false))
  r.put('/servers/:id/metadata', setAll(true))
  r.get(
    '/servers/:id/metadata/:key',
    wrap(async (req, res) => {
      const key = String(req.params['key'])
      const md = await current(res, String(req.params['id']))
      if (!Object.hasOwn(md, key)) throw new NotFoundError('Metadata item was not found')
      res.json({ meta: { [key]: md[key] } })
    }),
  )
  r.put(
    '/servers/:id/metadata/:key',
    wrap(async (req, res) => {
      const key = String(req.params['key'])
      const meta = parseBody(metaItemBody, req.body).meta
      if (!Object.hasOwn(meta, key)) throw new InvalidError('Request body and URI mismatch')
      const uuid = String(req.params['id'])
      const before = await current(res, uuid)
      await quota(res, Object.keys({ ...before, ...meta }).length)
      await change(res, uuid, { metadata: meta, mode: 'merge' })
      res.json({ meta })
    }),
  )
  r.delete(
    '/servers/:id/metadata/:key',
    wrap(async (req, res) => {
      const key = String(req.params['key'])
      const uuid = String(req.params['id'])
      if (!Object.hasOwn(await current(res, uuid), key)) throw new NotFoundError('Metadata item was not found')
      await change(res, uuid, { remove: key })
      res.status(204).end()
    }),
  )
  return r
}
