import type { Kysely, Selectable } from 'kysely'
import type { BuildGroup } from '../../../shared/cell-link/build-spec.js'
import type { ComputeTables, InstanceGroupsTable } from '../../db/compute-schema.js'

/** The four policies of a server group. */
export const GROUP_POLICIES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'] as const
/** One of {@link GROUP_POLICIES}. */
export type GroupPolicy = (typeof GROUP_POLICIES)[number]

/** A server group row. */
export type GroupRow = Selectable<InstanceGroupsTable>

/** The rules of a group (`{}` or `{"max_server_per_host": N}`). */
export function rulesOf(g: GroupRow): Record<string, number> {
  try {
    const v: unknown = JSON.parse(g.rules)
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, number>) : {}
  } catch {
    return {}
  }
}

/** A group by uuid as the caller may see it: its own project's, or any for admins. */
export async function findGroup(db: Kysely<ComputeTables>, uuid: string, caller: { projectId: string; isAdmin: boolean }): Promise<GroupRow | undefined> {
  const g = await db.selectFrom('instance_groups').selectAll().where('uuid', '=', uuid).executeTakeFirst()
  return g !== undefined && (caller.isAdmin || g.project_id === caller.projectId) ? g : undefined
}

/**
 * The live members of groups, oldest first: instances whose index row is not deleted (a deleted
 * server leaves its group, as in Nova; the membership row stays harmlessly behind).
 */
export async function liveMembers(db: Kysely<ComputeTables>, groupIds: readonly number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>(groupIds.map((id) => [id, []]))
  if (groupIds.length === 0) return out
  const rows = await db
    .selectFrom('instance_group_members as m')
    .innerJoin('instance_index as ii', 'ii.uuid', 'm.instance_uuid')
    .select(['m.group_id', 'm.instance_uuid'])
    .where('m.group_id', 'in', groupIds)
    .where('ii.vm_state', '!=', 'deleted')
    .orderBy('m.created_at')
    .orderBy('m.instance_uuid')
    .execute()
  for (const r of rows) out.get(r.group_id)?.push(r.instance_uuid)
  return out
}

/**
 * What a build in `group` must know of the group (`BuildSpec.group`): its policy and rule, and
 * the hosts and cells of the members already placed (from the instance index). Members still
 * being scheduled have no host yet and are left out.
 */
export async function buildGroupOf(db: Kysely<ComputeTables>, group: GroupRow): Promise<BuildGroup> {
  const rows = await db
    .selectFrom('instance_group_members as m')
    .innerJoin('instance_index as ii', 'ii.uuid', 'm.instance_uuid')
    .select(['ii.host', 'ii.cell_path'])
    .where('m.group_id', '=', group.id)
    .where('ii.vm_state', '!=', 'deleted')
    .where('ii.host', 'is not', null)
    .where('ii.cell_path', 'is not', null)
    .orderBy('m.created_at')
    .execute()
  const members = rows.flatMap((r) => (r.host !== null && r.cell_path !== null ? [{ host: r.host, cellPath: r.cell_path }] : []))
  const max = rulesOf(group)['max_server_per_host']
  return {
    uuid: group.uuid,
    policy: group.policy as GroupPolicy,
    ...(group.policy === 'anti-affinity' && typeof max === 'number' ? { maxServerPerHost: max } : {}),
    members,
  }
}

/** Records the membership of new instances (same transaction as their build requests). */
export async function addMembers(tx: Kysely<ComputeTables>, groupId: number, uuids: readonly string[], now: number): Promise<void> {
  for (const uuid of uuids) await tx.insertInto('instance_group_members').values({ instance_uuid: uuid, group_id: groupId, created_at: now }).execute()
}

/** The groups (uuids) an instance belongs to: at most one (the 2.71 `server_groups` field). */
export async function groupsOfInstance(db: Kysely<ComputeTables>, instanceUuid: string): Promise<string[]> {
  const rows = await db
    .selectFrom('instance_group_members as m')
    .innerJoin('instance_groups as g', 'g.id', 'm.group_id')
    .select('g.uuid')
    .where('m.instance_uuid', '=', instanceUuid)
    .execute()
  return rows.map((r) => r.uuid)
}
