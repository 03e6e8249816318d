import type { NextFunction, Request, Response } from 'express'
import { Router } from 'express'
import { z } from 'zod'
import type { InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { parseBody } from '../parameter-types.js'
import { linkBase } from '../request-scope.js'
import { actOnInstance, callerOf, isRecord } from './instance-act.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Nova's `MAX_INSTANCE_TAGS`. */
export const MAX_TAGS = 50

/** Nova's `parameter_types.tag`: 1-60 characters, neither `,` nor `/`. */
export const novaTag = z
  .string()
  .min(1)
  .max(60)
  .refine((t) => !t.includes(',') && !t.includes('/'), "must not contain '/' or ','")

/** A list of tags as `PUT /servers/{id}/tags` and `POST /servers` (2.52) take it. */
export const novaTags = z.array(novaTag).max(MAX_TAGS)

const putAllBody = z.strictObject({ tags: novaTags })

/**
 * The server tags API (2.26): `GET/PUT/DELETE /servers/{id}/tags` and
 * `GET/PUT/DELETE /servers/{id}/tags/{tag}`. Below 2.26 these routes do not exist (404, as Nova).
 * Changes go DOWN to the owning cell as the `set_tags` instance action and come back UP through
 * the outbox; the index keeps the tags for the list filters.
 */
export function serverTagsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  r.use('/servers/:id/tags', (_req: Request, res: Response, next: NextFunction) => {
    if (atLeast(microversionOf(res), '2.26')) next()
    else next(new NotFoundError('The resource could not be found.'))
  })
  const tagsOf = async (res: Response, uuid: string): Promise<readonly string[]> =>
    (await d.locator.get(contextOf(res), callerOf(res), uuid)).record.tags ?? []
  const change = async (res: Response, uuid: string, args: Record<string, unknown>): Promise<readonly string[]> => {
    const result = await actOnInstance(d, res, uuid, 'set_tags', args)
    return isRecord(result) ? ((result as InstanceRecord).tags ?? []) : []
  }
  const tagParam = (req: Request): string => {
    const tag = String(req.params['tag'])
    const parsed = novaTag.safeParse(tag)
    if (!parsed.success) {
      throw new InvalidError(`Tag '${tag.slice(0, 255)}' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
    }
    return tag
  }

  r.get(
    '/servers/:id/tags',
    wrap(async (req, res) => {
      res.json({ tags: await tagsOf(res, String(req.params['id'])) })
    }),
  )
  r.put(
    '/servers/:id/tags',
    wrap(async (req, res) => {
      const tags = parseBody(putAllBody, req.body).tags
      const uuid = String(req.params['id'])
      res.json({ tags: await change(res, uuid, { tags }) })
    }),
  )
  r.delete(
    '/servers/:id/tags',
    wrap(async (req, res) => {
      await change(res, String(req.params['id']), { tags: [] })
      res.status(204).end()
    }),
  )
  r.get(
    '/servers/:id/tags/:tag',
    wrap(async (req, res) => {
      const tag = String(req.params['tag'])
      const uuid = String(req.params['id'])
      if (!(await tagsOf(res, uuid)).includes(tag)) throw new NotFoundError(`Tag ${tag.slice(0, 255)} could not be found on instance ${uuid}.`)
      res.status(204).end()
    }),
  )
  r.put(
    '/servers/:id/tags/:tag',
    wrap(async (req, res) => {
      const tag = tagParam(req)
      const uuid = String(req.params['id'])
      const before = await tagsOf(res, uuid)
      const existed = before.includes(tag)
      if (!existed && before.length >= MAX_TAGS) throw new InvalidError(`The number of tags exceeded the per-server limit ${MAX_TAGS}`)
      // Already there: Nova still checks the state, then answers 204 (with the Location too).
      await change(res, uuid, { add: tag })
      res.setHeader('Location', `${linkBase(req, res).versioned}/servers/${uuid}/tags/${encodeURIComponent(tag)}`)
      res.status(existed ? 204 : 201).end()
    }),
  )
  r.delete(
    '/servers/:id/tags/:tag',
    wrap(async (req, res) => {
      const tag = String(req.params['tag'])
      const uuid = String(req.params['id'])
      if (!(await tagsOf(res, uuid)).includes(tag)) throw new NotFoundError(`Tag ${tag.slice(0, 255)} could not be found on instance ${uuid}.`)
      await change(res, uuid, { remove: tag })
      res.status(204).end()
    }),
  )
  return r
}
