import type { Kysely } from 'kysely'
import { OverQuotaError } from '../../../shared/errors.js'
import type { ComputeTables } from '../../db/compute-schema.js'
import type { QuotaBound } from './instance-quota.js'
import { allowedInstances, INSTANCE_RESOURCES } from './instance-quota.js'
import { instanceUsage, limitsOf, userLimit } from './quota-store.js'

/** Who boots what, for the quota checks of `POST /servers`. */
export interface BootCharge {
  readonly projectId: string
  readonly userId: string
  readonly vcpus: number
  readonly memoryMb: number
  readonly minCount: number
  readonly maxCount: number
}

/**
 * How many of the requested instances the project's (and the user's) quotas allow, counted inside
 * `tx`, which must already hold the project's quota lock (`withQuotaLock`), so that the count and
 * the inserts that follow are atomic against concurrent boots. Throws {@link OverQuotaError}.
 */
export async function instancesAllowed(tx: Kysely<ComputeTables>, c: BootCharge): Promise<number> {
  const limits = await limitsOf(tx, c.projectId, c.userId)
  const project = await instanceUsage(tx, c.projectId)
  const userBound = INSTANCE_RESOURCES.some((r) => limits.user[r] !== undefined)
  const user = userBound ? await instanceUsage(tx, c.projectId, c.userId) : undefined
  const bounds = Object.fromEntries(
    INSTANCE_RESOURCES.map((r) => {
      const list: QuotaBound[] = [{ limit: limits.project[r], used: project[r] }]
      const own = limits.user[r]
      if (own !== undefined && user !== undefined) list.push({ limit: own, used: user[r] })
      return [r, list]
    }),
  ) as Record<(typeof INSTANCE_RESOURCES)[number], QuotaBound[]>
  return allowedInstances({ bounds, vcpus: c.vcpus, memoryMb: c.memoryMb, minCount: c.minCount, maxCount: c.maxCount })
}

/** Records what each new instance was charged, so that usage survives a deleted flavor. */
export async function recordCharges(tx: Kysely<ComputeTables>, c: Pick<BootCharge, 'projectId' | 'userId' | 'vcpus' | 'memoryMb'>, uuids: readonly string[]): Promise<void> {
  for (const uuid of uuids) {
    await tx.insertInto('quota_instance_usage').values({ instance_uuid: uuid, project_id: c.projectId, user_id: c.userId, vcpus: c.vcpus, memory_mb: c.memoryMb }).execute()
  }
}

/** Nova's `metadata_items` check: more items than the limit is a 403 with Nova's message. */
export async function checkMetadataItems(db: Kysely<ComputeTables>, projectId: string, userId: string, items: number): Promise<void> {
  if (items === 0) return
  const allowed = userLimit(await limitsOf(db, projectId, userId), 'metadata_items')
  if (allowed >= 0 && items > allowed) throw new OverQuotaError(`Maximum number of metadata items exceeds ${allowed}`)
}

/** Nova's `server_group_members` check for `count` new members of a group that has `members`. */
export async function checkGroupMembers(tx: Kysely<ComputeTables>, projectId: string, userId: string, members: number, count: number): Promise<void> {
  const allowed = userLimit(await limitsOf(tx, projectId, userId), 'server_group_members')
  if (allowed >= 0 && members + count > allowed) throw new OverQuotaError('Quota exceeded, too many servers in group')
}
