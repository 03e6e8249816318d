import type { Kysely } from 'kysely'
import type { ComputeTables } from '../../db/compute-schema.js'
import type { QuotaResource } from './quota-resources.js'
import { DEFAULT_QUOTAS, isQuotaResource, QUOTA_RESOURCES } from './quota-resources.js'

/** A quota scope's lock key: quota checks of the same scope are serialised on its row. */
export type QuotaScope = `project:${string}` | `user:${string}`

/**
 * Serialises quota checks of one scope. Call it with the transaction that will also count usage and
 * insert the new resources, **before any other statement of that transaction**:
 * - MySQL/InnoDB: the `UPDATE` holds the row's exclusive lock until commit, and the transaction's
 *   consistent-read snapshot is only taken at its first plain `SELECT`, i.e. after the lock, so
 *   the usage it counts includes every commit of the previous holder;
 * - SQLite: the `UPDATE` takes the database's single write lock until commit.
 * The row is created beforehand, outside the transaction (`INSERT IGNORE` inside it would take a
 * shared lock first and two holders upgrading at once would deadlock on MySQL).
 */
export async function ensureScopeRow(db: Kysely<ComputeTables>, scope: QuotaScope): Promise<void> {
  await db.insertInto('quota_locks').orIgnore().values({ scope, generation: 0 }).execute()
}

/** Takes the scope's lock inside `tx` (see {@link ensureScopeRow}). */
export async function lockScope(tx: Kysely<ComputeTables>, scope: QuotaScope): Promise<void> {
  await tx
    .updateTable('quota_locks')
    .set((eb) => ({ generation: eb('generation', '+', 1) }))
    .where('scope', '=', scope)
    .execute()
}

/** Runs `fn` in one transaction that holds the lock of `scope` from its first statement. */
export async function withQuotaLock<T>(db: Kysely<ComputeTables>, scope: QuotaScope, fn: (tx: Kysely<ComputeTables>) => Promise<T>): Promise<T> {
  await ensureScopeRow(db, scope)
  return db.transaction().execute(async (tx) => {
    await lockScope(tx, scope)
    return fn(tx)
  })
}

/** A project's limits and, when `userId` is given, that user's own overrides within the project. */
export interface EffectiveLimits {
  readonly project: Readonly<Record<QuotaResource, number>>
  readonly user: Readonly<Partial<Record<QuotaResource, number>>>
}

/** The name of the quota class whose limits are every project's defaults. */
export const DEFAULT_CLASS = 'default'

/** A quota class's limits: its rows over the built-in defaults (`default` is what projects get). */
export async function classLimitsOf(db: Kysely<ComputeTables>, className: string = DEFAULT_CLASS): Promise<Record<QuotaResource, number>> {
  const rows = await db.selectFrom('quota_classes').select(['resource', 'hard_limit']).where('class_name', '=', className).execute()
  const out: Record<QuotaResource, number> = { ...DEFAULT_QUOTAS }
  for (const r of rows) if (isQuotaResource(r.resource)) out[r.resource] = r.hard_limit
  return out
}

/** Sets a quota class's limits (upsert). */
export async function setClassLimits(db: Kysely<ComputeTables>, className: string, values: Readonly<Partial<Record<QuotaResource, number>>>): Promise<void> {
  const now = Date.now()
  await db.transaction().execute(async (tx) => {
    for (const [resource, hard_limit] of Object.entries(values)) {
      const upd = await tx
        .updateTable('quota_classes')
        .set({ hard_limit, updated_at: now })
        .where('class_name', '=', className)
        .where('resource', '=', resource)
        .executeTakeFirst()
      if (Number(upd.numUpdatedRows) === 0) await tx.insertInto('quota_classes').values({ class_name: className, resource, hard_limit, updated_at: now }).execute()
    }
  })
}

/** The `default` class overlaid with the project's overrides (and the user's, kept apart). */
export async function limitsOf(db: Kysely<ComputeTables>, projectId: string, userId?: string): Promise<EffectiveLimits> {
  const project = await classLimitsOf(db)
  const rows = await db
    .selectFrom('quotas')
    .select(['user_id', 'resource', 'hard_limit'])
    .where('project_id', '=', projectId)
    .where('user_id', 'in', userId === undefined ? [''] : ['', userId])
    .execute()
  const user: Partial<Record<QuotaResource, number>> = {}
  for (const r of rows) {
    if (!isQuotaResource(r.resource)) continue
    if (r.user_id === '') project[r.resource] = r.hard_limit
    else user[r.resource] = r.hard_limit
  }
  return { project, user }
}

/** The limit that binds `userId` for `resource`: the user's override, else the project's. */
export function userLimit(l: EffectiveLimits, resource: QuotaResource): number {
  return l.user[resource] ?? l.project[resource]
}

/** Sets overrides (upsert), for the project (`userId` empty) or a user in it. */
export async function setLimits(db: Kysely<ComputeTables>, projectId: string, userId: string, values: Readonly<Partial<Record<QuotaResource, number>>>): Promise<void> {
  const now = Date.now()
  await db.transaction().execute(async (tx) => {
    for (const [resource, hard_limit] of Object.entries(values)) {
      const upd = await tx
        .updateTable('quotas')
        .set({ hard_limit, updated_at: now })
        .where('project_id', '=', projectId)
        .where('user_id', '=', userId)
        .where('resource', '=', resource)
        .executeTakeFirst()
      if (Number(upd.numUpdatedRows) === 0) {
        await tx.insertInto('quotas').values({ project_id: projectId, user_id: userId, resource, hard_limit, updated_at: now }).execute()
      }
    }
  })
}

/** Removes overrides: the project's and all its users' (no `userId`), or one user's. */
export async function deleteLimits(db: Kysely<ComputeTables>, projectId: string, userId?: string): Promise<void> {
  let q = db.deleteFrom('quotas').where('project_id', '=', projectId)
  if (userId !== undefined) q = q.where('user_id', '=', userId)
  await q.execute()
}

/** Instances, cores and RAM (MB) in use. */
export interface InstanceUsage {
  readonly instances: number
  readonly cores: number
  readonly ram: number
}

/**
 * What a project (or one user in it) consumes: every instance of the index not deleted, with the
 * vCPUs and RAM charged at boot, or its flavor's for instances that came without a charge record.
 */
export async function instanceUsage(db: Kysely<ComputeTables>, projectId: string, userId?: string): Promise<InstanceUsage> {
  let q = db
    .selectFrom('instance_index as ii')
    .leftJoin('quota_instance_usage as u', 'u.instance_uuid', 'ii.uuid')
    .leftJoin('flavors as f', 'f.flavorid', 'ii.flavor_id')
    .select((eb) => [
      eb.fn.countAll<number>().as('instances'),
      eb.fn.sum<number | null>(eb.fn.coalesce('u.vcpus', 'f.vcpus', eb.lit(0))).as('cores'),
      eb.fn.sum<number | null>(eb.fn.coalesce('u.memory_mb', 'f.memory_mb', eb.lit(0))).as('ram'),
    ])
    .where('ii.project_id', '=', projectId)
    .where('ii.vm_state', '!=', 'deleted')
  if (userId !== undefined) q = q.where('ii.user_id', '=', userId)
  const row = await q.executeTakeFirst()
  return { instances: Number(row?.instances ?? 0), cores: Number(row?.cores ?? 0), ram: Number(row?.ram ?? 0) }
}

/** Key pairs of a user (a per-user resource). */
export async function keyPairCount(db: Kysely<ComputeTables>, userId: string): Promise<number> {
  const row = await db.selectFrom('key_pairs').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirst()
  return Number(row?.n ?? 0)
}

/** Server groups of a project (or of one user in it). */
export async function serverGroupCount(db: Kysely<ComputeTables>, projectId: string, userId?: string): Promise<number> {
  let q = db.selectFrom('instance_groups').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId)
  if (userId !== undefined) q = q.where('user_id', '=', userId)
  const row = await q.executeTakeFirst()
  return Number(row?.n ?? 0)
}

/** Every resource at its in-use count for the detail view; absolute resources are 0. */
export async function usageOf(db: Kysely<ComputeTables>, projectId: string, userId?: string): Promise<Record<QuotaResource, number>> {
  const inst = await instanceUsage(db, projectId, userId)
  const out = Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, 0])) as Record<QuotaResource, number>
  out.instances = inst.instances
  out.cores = inst.cores
  out.ram = inst.ram
  out.server_groups = await serverGroupCount(db, projectId, userId)
  // Key pairs belong to users: a project-wide view has no count for them (as in Nova).
  if (userId !== undefined) out.key_pairs = await keyPairCount(db, userId)
  return out
}
