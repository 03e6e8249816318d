import type { Kysely } from 'kysely'
import { isDuplicateKey } from '../../../shared/db/database.js'
import { ruleFingerprint } from './rule-validation.js'
import type { SecurityGroupTables } from './schema.js'

/** The name Neutron gives every project's default group. */
export const DEFAULT_GROUP_NAME = 'default'

/**
 * The id of `projectId`'s `default` group, created on first need with Neutron's four rules:
 * egress to anywhere (IPv4, IPv6) and ingress from members of the same group (IPv4, IPv6).
 *
 * Exactly one group per project, whatever runs concurrently (threads of one API process, API
 * workers, several API processes): the first statement of the creating transaction inserts the
 * project's row of `default_security_groups` (primary key `project_id`). A concurrent creator
 * waits on that key (MySQL) or on the write lock (SQLite), fails with a duplicate key once the
 * winner commits, and reads the winner's group instead; its own rows are rolled back.
 */
export async function ensureDefaultGroup(db: Kysely<SecurityGroupTables>, projectId: string): Promise<string> {
  const existing = await defaultGroupId(db, projectId)
  if (existing !== undefined) return existing
  const id = crypto.randomUUID()
  const now = Date.now()
  try {
    await db.transaction().execute(async (tx) => {
      await tx.insertInto('default_security_groups').values({ project_id: projectId, security_group_id: id }).execute()
      await tx
        .insertInto('securitygroups')
        .values({ id, project_id: projectId, name: DEFAULT_GROUP_NAME, description: 'Default security group', stateful: 1, revision_number: 0, created_at: now, updated_at: now })
        .execute()
      const rules = [
        { direction: 'egress', ethertype: 'IPv4', remote_group_id: null },
        { direction: 'egress', ethertype: 'IPv6', remote_group_id: null },
        { direction: 'ingress', ethertype: 'IPv4', remote_group_id: id },
        { direction: 'ingress', ethertype: 'IPv6', remote_group_id: id },
      ] as const
      await tx
        .insertInto('securitygrouprules')
        .values(rules.map((r) => baseRuleRow({ id: crypto.randomUUID(), projectId, groupId: id, now, ...r })))
        .execute()
    })
    return id
  } catch (err) {
    if (!isDuplicateKey(err)) throw err
    const winner = await defaultGroupId(db, projectId)
    if (winner === undefined) throw err
    return winner
  }
}

/** The id of the project's default group, if it has one yet. */
export async function defaultGroupId(db: Kysely<SecurityGroupTables>, projectId: string): Promise<string | undefined> {
  const row = await db.selectFrom('default_security_groups').select('security_group_id').where('project_id', '=', projectId).executeTakeFirst()
  return row?.security_group_id
}

/**
 * A rule row with no protocol, ports or prefix: the default group's rules and the two egress
 * rules Neutron gives every new group.
 */
export function baseRuleRow(a: {
  readonly id: string
  readonly projectId: string
  readonly groupId: string
  readonly now: number
  readonly direction: 'ingress' | 'egress'
  readonly ethertype: 'IPv4' | 'IPv6'
  readonly remote_group_id: string | null
}): SecurityGroupTables['securitygrouprules'] {
  const fields = {
    securityGroupId: a.groupId,
    direction: a.direction,
    ethertype: a.ethertype,
    protocol: null,
    portRangeMin: null,
    portRangeMax: null,
    remoteIpPrefix: null,
    remoteGroupId: a.remote_group_id,
  }
  return {
    id: a.id,
    project_id: a.projectId,
    security_group_id: a.groupId,
    direction: a.direction,
    ethertype: a.ethertype,
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    remote_ip_prefix: null,
    remote_group_id: a.remote_group_id,
    description: '',
    fingerprint: ruleFingerprint(fields),
    revision_number: 0,
    created_at: a.now,
    updated_at: a.now,
  }
}
