import { randomUUID } from 'node:crypto'
import type { Request, Response, Router } from 'express'
import { z } from 'zod'
import { ConflictError, NotFoundError } from '../../../shared/errors.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { novaBoolean, novaDescription, novaInt, novaName, parseBody } from '../parameter-types.js'
import { extraSpecsOf, findFlavor } from './flavor-store.js'
import { flavorView } from './flavor-view.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

const flavorFields = {
  name: novaName,
  id: z
    .union([z.string().min(1).max(255).regex(/^(?! )[a-zA-Z0-9. _-]+(?<! )$/, 'invalid flavor id'), z.number().int().nonnegative(), z.null()])
    .optional(),
  ram: novaInt(1),
  vcpus: novaInt(1),
  disk: novaInt(0),
  'OS-FLV-EXT-DATA:ephemeral': novaInt(0).optional(),
  swap: z.union([z.literal(''), novaInt(0)]).optional(),
  rxtx_factor: z
    .union([z.number(), z.string().regex(/^[0-9]+(\.[0-9]+)?$/)])
    .transform(Number)
    .pipe(z.number().gt(0).max(3.40282e38))
    .optional(),
  'os-flavor-access:is_public': novaBoolean.optional(),
}

const createSchema = z.strictObject({ flavor: z.strictObject(flavorFields) })
const createSchema255 = z.strictObject({ flavor: z.strictObject({ ...flavorFields, description: novaDescription.optional() }) })
const updateSchema = z.strictObject({ flavor: z.strictObject({ description: novaDescription }) })

/**
 * Flavor management (`os-flavor-manage`), admin only: `POST /flavors` (200, id generated when not
 * given), `DELETE /flavors/{id}` (202; instances keep their flavor snapshot), `PUT /flavors/{id}`
 * (2.55, description only). Every change makes the cells report fits for the new set of flavors.
 */
export function mountFlavorManage(r: Router, d: ComputeDeps, wrap: Wrap): void {
  r.post(
    '/flavors',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-flavor-manage:create')
      const mv = microversionOf(res)
      const f = parseBody(atLeast(mv, '2.55') ? createSchema255 : createSchema, req.body).flavor
      const flavorid = f.id === undefined || f.id === null ? randomUUID() : String(f.id)
      const name = f.name
      const conflict = async (): Promise<ConflictError | undefined> => {
        if ((await d.db.selectFrom('flavors').select('id').where('name', '=', name).executeTakeFirst()) !== undefined) {
          return new ConflictError(`Flavor with name ${name} already exists.`)
        }
        if ((await d.db.selectFrom('flavors').select('id').where('flavorid', '=', flavorid).executeTakeFirst()) !== undefined) {
          return new ConflictError(`Flavor with ID ${flavorid} already exists.`)
        }
        return undefined
      }
      const before = await conflict()
      if (before !== undefined) throw before
      const now = Date.now()
      try {
        await d.db
          .insertInto('flavors')
          .values({
            flavorid,
            name,
            memory_mb: f.ram,
            vcpus: f.vcpus,
            root_gb: f.disk,
            ephemeral_gb: f['OS-FLV-EXT-DATA:ephemeral'] ?? 0,
            swap: f.swap === undefined || f.swap === '' ? 0 : f.swap,
            rxtx_factor: f.rxtx_factor ?? 1,
            is_public: f['os-flavor-access:is_public'] === false ? 0 : 1,
            disabled: 0,
            description: (f as { description?: string | null }).description ?? null,
            created_at: now,
            updated_at: now,
          })
          .execute()
      } catch (err) {
        // A concurrent create won the unique constraint: answer as if we had seen it first.
        throw (await conflict()) ?? err
      }
      const row = await d.db.selectFrom('flavors').selectAll().where('flavorid', '=', flavorid).executeTakeFirstOrThrow()
      await d.tree.refreshFlavors()
      res.status(200).json({ flavor: flavorView(row, mv, req, res, atLeast(mv, '2.61') ? {} : undefined) })
    }),
  )

  r.delete(
    '/flavors/:id',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-flavor-manage:delete')
      const id = String(req.params['id'])
      const f = await d.db.selectFrom('flavors').select('id').where('flavorid', '=', id).executeTakeFirst()
      if (f === undefined) throw new NotFoundError(`Flavor ${id} could not be found.`)
      await d.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('flavor_extra_specs').where('flavor_id', '=', f.id).execute()
        await tx.deleteFrom('flavor_projects').where('flavor_id', '=', f.id).execute()
        await tx.deleteFrom('flavors').where('id', '=', f.id).execute()
      })
      await d.tree.refreshFlavors()
      res.status(202).end()
    }),
  )

  r.put(
    '/flavors/:id',
    wrap(async (req, res) => {
      const mv = microversionOf(res)
      const id = String(req.params['id'])
      // Nova has no PUT before 2.55: the method is "not found" for older versions.
      if (!atLeast(mv, '2.55')) throw new NotFoundError('The resource could not be found.')
      requireAdmin(res, 'os_compute_api:os-flavor-manage:update')
      const body = parseBody(updateSchema, req.body)
      const f = await findFlavor(d.db, id, { projectId: '', isAdmin: true })
      if (f === undefined) throw new NotFoundError(`Flavor ${id} could not be found.`)
      await d.db.updateTable('flavors').set({ description: body.flavor.description, updated_at: Date.now() }).where('id', '=', f.id).execute()
      const row = await d.db.selectFrom('flavors').selectAll().where('id', '=', f.id).executeTakeFirstOrThrow()
      res.status(200).json({ flavor: flavorView(row, mv, req, res, atLeast(mv, '2.61') ? await extraSpecsOf(d.db, f.id) : undefined) })
    }),
  )
}
