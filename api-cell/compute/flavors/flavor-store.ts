import type { Kysely, Selectable } from 'kysely'
import type { FlavorSnapshot } from '../../../shared/cell-link/build-spec.js'
import type { ComputeTables, FlavorsTable } from '../../db/compute-schema.js'

/** Nova's classic flavors, seeded at bootstrap. */
export const CLASSIC_FLAVORS = [
  { flavorid: '1', name: 'm1.tiny', memory_mb: 512, vcpus: 1, root_gb: 1 },
  { flavorid: '2', name: 'm1.small', memory_mb: 2048, vcpus: 1, root_gb: 20 },
  { flavorid: '3', name: 'm1.medium', memory_mb: 4096, vcpus: 2, root_gb: 40 },
  { flavorid: '4', name: 'm1.large', memory_mb: 8192, vcpus: 4, root_gb: 80 },
  { flavorid: '5', name: 'm1.xlarge', memory_mb: 16384, vcpus: 8, root_gb: 160 },
] as const

/** Inserts the classic flavors that are missing (by id). Idempotent. */
export async function seedFlavors(db: Kysely<ComputeTables>): Promise<number> {
  let added = 0
  const now = Date.now()
  for (const f of CLASSIC_FLAVORS) {
    const exists = await db.selectFrom('flavors').select('id').where('flavorid', '=', f.flavorid).executeTakeFirst()
    if (exists !== undefined) continue
    await db
      .insertInto('flavors')
      .values({ ...f, ephemeral_gb: 0, swap: 0, rxtx_factor: 1, is_public: 1, disabled: 0, description: null, created_at: now, updated_at: now })
      .execute()
    added += 1
  }
  return added
}

/**
 * A flavor by id (Nova looks up by flavorid only), as the caller may see it: admins see every
 * flavor; others see public flavors and the private ones their project was given access to.
 * Invisible is the same as missing (404 on show, 400 on boot), as in Nova.
 */
export async function findFlavor(
  db: Kysely<ComputeTables>,
  id: string,
  caller: { projectId: string; isAdmin: boolean },
): Promise<Selectable<FlavorsTable> | undefined> {
  const f = await db.selectFrom('flavors').selectAll().where('flavorid', '=', id).executeTakeFirst()
  if (f === undefined || caller.isAdmin || f.is_public === 1) return f
  return (await hasAccess(db, f.id, caller.projectId)) ? f : undefined
}

/** `true` when `projectId` was given access to the private flavor `flavorDbId`. */
export async function hasAccess(db: Kysely<ComputeTables>, flavorDbId: number, projectId: string): Promise<boolean> {
  const row = await db
    .selectFrom('flavor_projects')
    .select('project_id')
    .where('flavor_id', '=', flavorDbId)
    .where('project_id', '=', projectId)
    .executeTakeFirst()
  return row !== undefined
}

/** The projects with access to a flavor, oldest grant first. */
export async function accessListOf(db: Kysely<ComputeTables>, flavorDbId: number): Promise<string[]> {
  const rows = await db.selectFrom('flavor_projects').select('project_id').where('flavor_id', '=', flavorDbId).orderBy('created_at').orderBy('project_id').execute()
  return rows.map((r) => r.project_id)
}

/** A flavor's extra specs as a plain object. */
export async function extraSpecsOf(db: Kysely<ComputeTables>, flavorDbId: number): Promise<Record<string, string>> {
  const rows = await db.selectFrom('flavor_extra_specs').select(['key', 'value']).where('flavor_id', '=', flavorDbId).execute()
  return Object.fromEntries(rows.map((r) => [r.key, r.value]))
}

/** The flavor as an instance keeps it. */
export async function flavorSnapshot(db: Kysely<ComputeTables>, f: Selectable<FlavorsTable>): Promise<FlavorSnapshot> {
  return {
    id: f.flavorid,
    name: f.name,
    memoryMb: f.memory_mb,
    vcpus: f.vcpus,
    rootGb: f.root_gb,
    ephemeralGb: f.ephemeral_gb,
    swapMb: f.swap,
    extraSpecs: await extraSpecsOf(db, f.id),
  }
}
