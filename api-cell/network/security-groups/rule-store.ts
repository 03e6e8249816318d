import { isDuplicateKey } from '../../../shared/db/database.js'
import { withNetworkQuotaLock } from './network-quotas.js'
import { conflict, notFound, overQuota } from './neutron-faults.js'
import type { NormalizedRule } from './rule-validation.js'
import { isUuid } from '../../../shared/uuid.js'
import { ruleFingerprint } from './rule-validation.js'
import type { NetworkCaller, SecurityGroupStore, SecurityRuleRow } from './security-group-store.js'

/** Filters of a rule list (Neutron's query parameters). */
export interface RuleFilters {
  readonly ids?: readonly string[]
  readonly securityGroupIds?: readonly string[]
  readonly directions?: readonly string[]
  readonly ethertypes?: readonly string[]
  readonly protocols?: readonly string[]
  readonly remoteGroupIds?: readonly string[]
  readonly projectId?: string
}

/**
 * Creates a rule in a group the caller may see (404 otherwise, and for a remote group it may not
 * see). A rule the group already has (see {@link ruleFingerprint}) is 409 `SecurityGroupRuleExists`,
 * decided by a UNIQUE column, so two concurrent creates leave one rule. Past the project's
 * `security_group_rule` quota: 409 `OverQuota`. The rule belongs to the group's project.
 */
export async function createRule(store: SecurityGroupStore, caller: NetworkCaller, rule: NormalizedRule): Promise<SecurityRuleRow> {
  const group = await store.row(caller, rule.securityGroupId)
  if (rule.remoteGroupId !== null) await store.row(caller, rule.remoteGroupId)
  const projectId = group.project_id
  const fingerprint = ruleFingerprint({ ...rule, securityGroupId: group.id })
  const limit = await store.limits.limitOf(projectId, 'security_group_rule')
  const now = Date.now()
  const row: SecurityRuleRow = {
    id: crypto.randomUUID(),
    project_id: projectId,
    security_group_id: group.id,
    direction: rule.direction,
    ethertype: rule.ethertype,
    protocol: rule.protocol,
    port_range_min: rule.portRangeMin,
    port_range_max: rule.portRangeMax,
    remote_ip_prefix: rule.remoteIpPrefix,
    remote_group_id: rule.remoteGroupId,
    description: rule.description,
    fingerprint,
    revision_number: 0,
    created_at: now,
    updated_at: now,
  }
  try {
    await withNetworkQuotaLock(store.db, `security_group_rule:${projectId}`, async (tx) => {
      const dup = await tx.selectFrom('securitygrouprules').select('id').where('fingerprint', '=', fingerprint).executeTakeFirst()
      if (dup !== undefined) throw ruleExists(dup.id)
      if (limit >= 0) {
        const { n } = await tx.selectFrom('securitygrouprules').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId).executeTakeFirstOrThrow()
        if (Number(n) + 1 > limit) throw overQuota('security_group_rule')
      }
      await tx.insertInto('securitygrouprules').values(row).execute()
    })
  } catch (err) {
    if (!isDuplicateKey(err)) throw err
    const dup = await store.db.selectFrom('securitygrouprules').select('id').where('fingerprint', '=', fingerprint).executeTakeFirst()
    throw ruleExists(dup?.id ?? '')
  }
  await store.onRulesChanged([group.id])
  return row
}

/** One rule the caller may see, or Neutron's 404. */
export async function getRule(store: SecurityGroupStore, caller: NetworkCaller, id: string): Promise<SecurityRuleRow> {
  const r = isUuid(id) ? await store.db.selectFrom('securitygrouprules').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst() : undefined
  if (r === undefined || (!caller.isAdmin && r.project_id !== caller.projectId)) throw notFound('SecurityGroupRuleNotFound', `Security group rule ${id} does not exist`)
  return r
}

/** Rules the caller may see, oldest first; the caller's default group is made first, as a group list does. */
export async function listRules(store: SecurityGroupStore, caller: NetworkCaller, f: RuleFilters = {}): Promise<SecurityRuleRow[]> {
  await store.ensureDefault(f.projectId !== undefined && caller.isAdmin ? f.projectId : caller.projectId)
  let q = store.db.selectFrom('securitygrouprules').selectAll()
  if (!caller.isAdmin) q = q.where('project_id', '=', caller.projectId)
  if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId)
  const inList = (v: readonly string[]): string[] => (v.length === 0 ? [''] : [...v])
  if (f.ids !== undefined) q = q.where('id', 'in', inList(f.ids))
  if (f.securityGroupIds !== undefined) q = q.where('security_group_id', 'in', inList(f.securityGroupIds))
  if (f.directions !== undefined) q = q.where('direction', 'in', inList(f.directions))
  if (f.ethertypes !== undefined) q = q.where('ethertype', 'in', inList(f.ethertypes))
  if (f.protocols !== undefined) q = q.where('protocol', 'in', inList(f.protocols))
  if (f.remoteGroupIds !== undefined) q = q.where('remote_group_id', 'in', inList(f.remoteGroupIds))
  return q.orderBy('created_at').orderBy('id').execute()
}

/** Deletes a rule the caller may see (404 otherwise). */
export async function deleteRule(store: SecurityGroupStore, caller: NetworkCaller, id: string): Promise<void> {
  const r = await getRule(store, caller, id)
  await store.db.deleteFrom('securitygrouprules').where('id', '=', r.id).execute()
  await store.onRulesChanged([r.security_group_id])
}

function ruleExists(id: string): Error {
  return conflict('SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${id}.`)
}
