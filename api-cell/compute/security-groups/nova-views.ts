import type { Kysely } from 'kysely'
import { ConflictError, ForbiddenError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import { NeutronFault } from '../../network/security-groups/neutron-faults.js'
import type { SecurityGroupTables } from '../../network/security-groups/schema.js'
import type { SecurityGroupWithRules, SecurityRuleRow } from '../../network/security-groups/security-group-store.js'

/** The name and project of remote groups, for rule views (`group: {name, tenant_id}`). */
export type GroupNames = ReadonlyMap<string, { readonly name: string; readonly tenant_id: string }>

/** Looks up the remote groups `rules` name. */
export async function remoteGroupNames(db: Kysely<SecurityGroupTables>, rules: readonly SecurityRuleRow[]): Promise<GroupNames> {
  const ids = [...new Set(rules.map((r) => r.remote_group_id).filter((g): g is string => g !== null))]
  if (ids.length === 0) return new Map()
  const rows = await db.selectFrom('securitygroups').select(['id', 'name', 'project_id']).where('id', 'in', ids).execute()
  return new Map(rows.map((r) => [r.id, { name: r.name, tenant_id: r.project_id }]))
}

/**
 * A Neutron rule as Nova's proxy shows it: `ip_protocol`, `from_port`/`to_port` (tcp/udp without
 * ports: 1-65535; other protocols without ports: -1), and either `group` or `ip_range` (a rule
 * with no prefix is `0.0.0.0/0`). Undefined for a rule whose remote group is gone.
 */
export function novaRule(r: SecurityRuleRow, names: GroupNames): Record<string, unknown> | undefined {
  let from: number | null = r.port_range_min
  let to: number | null = r.port_range_max
  if (r.protocol !== null && from === null && to === null) {
    const ported = r.protocol.toUpperCase() === 'TCP' || r.protocol.toUpperCase() === 'UDP'
    from = ported ? 1 : -1
    to = ported ? 65535 : -1
  }
  const out: Record<string, unknown> = { id: r.id, parent_group_id: r.security_group_id, ip_protocol: r.protocol, from_port: from, to_port: to, group: {}, ip_range: {} }
  if (r.remote_group_id !== null) {
    const g = names.get(r.remote_group_id)
    if (g === undefined) return undefined
    out['group'] = { name: g.name, tenant_id: g.tenant_id }
  } else {
    out['ip_range'] = { cidr: r.remote_ip_prefix ?? '0.0.0.0/0' }
  }
  return out
}

/** A group as Nova's proxy shows it: its ingress rules only (Nova never showed egress ones). */
export function novaGroup(g: SecurityGroupWithRules, names: GroupNames): Record<string, unknown> {
  return {
    id: g.group.id,
    name: g.group.name,
    description: g.group.description,
    tenant_id: g.group.project_id,
    rules: g.rules
      .filter((r) => r.direction === 'ingress')
      .map((r) => novaRule(r, names))
      .filter((r) => r !== undefined),
  }
}

/** Groups in Nova's order: by project, then name. */
export function sortedGroups(groups: Record<string, unknown>[]): Record<string, unknown>[] {
  const key = (g: Record<string, unknown>): string => `${String(g['tenant_id'])}\u0000${String(g['name'])}`
  return [...groups].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
}

/**
 * How Nova's neutron driver turns the network service's errors into its own: 404 stays 404,
 * `OverQuota` is Nova's 403 `SecurityGroupLimitExceeded`, a duplicate rule and other 409s of a
 * write (in use, default group) are Nova's 400 `Invalid`, `NoUniqueMatch` stays 409, a 400 stays 400.
 */
export function toNovaError(err: unknown, what: 'group' | 'rule' = 'group'): unknown {
  if (!(err instanceof NeutronFault)) return err
  if (err.status === 404) return new NotFoundError(err.message.replace(' does not exist', ' not found.'))
  if (err.type === 'OverQuota') return new ForbiddenError(what === 'group' ? 'Quota exceeded, too many security groups.' : 'Quota exceeded, too many security group rules.')
  if (err.type === 'NoUniqueMatch') return new ConflictError(err.message)
  if (err.type === 'SecurityGroupRuleExists') return new InvalidError(`This rule already exists in group: ${err.message}`)
  return new InvalidError(err.message)
}
