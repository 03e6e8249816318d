import type { Request, Response, Router } from 'express'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { authOf } from '../../identity/auth.js'
import type { ComputeTables } from '../../db/compute-schema.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { parseBody } from '../parameter-types.js'
import { atLeast, microversionOf } from '../microversion.js'
import { validateExtraSpec } from './extra-spec-validators.js'
import { extraSpecsOf, findFlavor } from './flavor-store.js'

/** From 2.86 known extra specs are validated as Nova does (see extra-spec-validators.ts). */
function checkKnownSpecs(res: Response, specs: Readonly<Record<string, string | number | boolean>>): void {
  if (!atLeast(microversionOf(res), '2.86')) return
  for (const [k, v] of Object.entries(specs)) validateExtraSpec(k, stored(v))
}

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Keys and values as Nova's schema before 2.86 takes them (values: strings, numbers or booleans). */
const KEY = /^[a-zA-Z0-9-_:. ]{1,255}$/
const value = z.union([z.string().max(255), z.number(), z.boolean()])
/** zod's record silently drops a `__proto__` key: refuse it (the key pattern admits it) before it does. */
const specsSchema = z
  .unknown()
  .refine((v) => v === null || typeof v !== 'object' || !Object.hasOwn(v, '__proto__'), "Additional properties are not allowed ('__proto__' was unexpected)")
  .pipe(z.record(z.string().regex(KEY, 'invalid extra spec key'), value))
const createSchema = z.strictObject({ extra_specs: specsSchema })

/** Nova stores every value as a string: numbers as written, booleans as Python spells them. */
function stored(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  const s = String(v)
  if (s.length > 255) throw new InvalidError('extra_specs value has a length of more than 255 characters.')
  return s
}

async function upsert(db: Kysely<ComputeTables>, flavorDbId: number, specs: Readonly<Record<string, string | number | boolean>>): Promise<void> {
  await db.transaction().execute(async (tx) => {
    for (const [key, v] of Object.entries(specs)) {
      const s = stored(v)
      const upd = await tx.updateTable('flavor_extra_specs').set({ value: s }).where('flavor_id', '=', flavorDbId).where('key', '=', key).executeTakeFirst()
      if (Number(upd.numUpdatedRows) === 0) await tx.insertInto('flavor_extra_specs').values({ flavor_id: flavorDbId, key, value: s }).execute()
    }
    await tx.updateTable('flavors').set({ updated_at: Date.now() }).where('id', '=', flavorDbId).execute()
  })
}

/**
 * `/flavors/{id}/os-extra_specs[/{key}]`: anyone who can see the flavor reads; admins create
 * (POST merges), update one key (PUT, body must name exactly the URL's key) and delete (200, empty).
 * Policy is checked before the flavor is looked up, as Nova does.
 */
export function mountExtraSpecs(r: Router, d: ComputeDeps, wrap: Wrap): void {
  const flavorOf = async (res: Response, id: string) => {
    const f = await findFlavor(d.db, id, authOf(res))
    if (f === undefined) throw new NotFoundError(`Flavor ${id} could not be found.`)
    return f
  }

  r.get(
    '/flavors/:id/os-extra_specs',
    wrap(async (req, res) => {
      const f = await flavorOf(res, String(req.params['id']))
      res.json({ extra_specs: await extraSpecsOf(d.db, f.id) })
    }),
  )
  r.post(
    '/flavors/:id/os-extra_specs',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-flavor-extra-specs:create')
      const body = parseBody(createSchema, req.body)
      checkKnownSpecs(res, body.extra_specs)
      const f = await flavorOf(res, String(req.params['id']))
      await upsert(d.db, f.id, body.extra_specs)
      await d.tree.refreshFlavors()
      res.status(200).json({ extra_specs: body.extra_specs })
    }),
  )
  r.get(
    '/flavors/:id/os-extra_specs/:key',
    wrap(async (req, res) => {
      const id = String(req.params['id'])
      const key = String(req.params['key'])
      const f = await flavorOf(res, id)
      const specs = await extraSpecsOf(d.db, f.id)
      if (!Object.hasOwn(specs, key)) throw new NotFoundError(`Flavor ${id} has no extra specs with key ${key}.`)
      res.json({ [key]: specs[key] })
    }),
  )
  r.put(
    '/flavors/:id/os-extra_specs/:key',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-flavor-extra-specs:update')
      const key = String(req.params['key'])
      const body = parseBody(specsSchema, req.body)
      const keys = Object.keys(body)
      if (keys.length === 0) throw new InvalidError('Invalid input for field/attribute body. Value: {}. {} does not have enough properties')
      if (keys.length > 1) throw new InvalidError('Request body contains too many items')
      if (keys[0] !== key) throw new InvalidError('Request body and URI mismatch')
      checkKnownSpecs(res, body)
      const f = await flavorOf(res, String(req.params['id']))
      await upsert(d.db, f.id, body)
      await d.tree.refreshFlavors()
      res.status(200).json(body)
    }),
  )
  r.delete(
    '/flavors/:id/os-extra_specs/:key',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-flavor-extra-specs:delete')
      const id = String(req.params['id'])
      const key = String(req.params['key'])
      const f = await flavorOf(res, id)
      const del = await d.db.deleteFrom('flavor_extra_specs').where('flavor_id', '=', f.id).where('key', '=', key).executeTakeFirst()
      if (Number(del.numDeletedRows) === 0) throw new NotFoundError(`Flavor ${id} has no extra specs with key ${key}.`)
      await d.tree.refreshFlavors()
      res.status(200).end()
    }),
  )
}
