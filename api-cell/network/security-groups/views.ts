import type { SecurityGroupWithRules, SecurityRuleRow } from './security-group-store.js'

/** Neutron's timestamps: seconds precision, `Z` (`2026-12-07T23:16:30Z`). */
export function neutronTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`
}

/** A rule as `/v2.0/security-group-rules` shows it. */
export function renderRule(r: SecurityRuleRow): Record<string, unknown> {
  return {
    id: r.id,
    project_id: r.project_id,
    tenant_id: r.project_id,
    security_group_id: r.security_group_id,
    direction: r.direction,
    ethertype: r.ethertype,
    protocol: r.protocol,
    port_range_min: r.port_range_min,
    port_range_max: r.port_range_max,
    remote_ip_prefix: r.remote_ip_prefix,
    remote_group_id: r.remote_group_id,
    remote_address_group_id: null,
    normalized_cidr: r.remote_ip_prefix,
    description: r.description,
    tags: [],
    created_at: neutronTime(r.created_at),
    updated_at: neutronTime(r.updated_at),
    revision_number: r.revision_number,
  }
}

/** A group as `/v2.0/security-groups` shows it, rules included. */
export function renderGroup(g: SecurityGroupWithRules): Record<string, unknown> {
  return {
    id: g.group.id,
    name: g.group.name,
    description: g.group.description,
    project_id: g.group.project_id,
    tenant_id: g.group.project_id,
    stateful: g.group.stateful === 1,
    shared: false,
    security_group_rules: g.rules.map(renderRule),
    tags: [],
    created_at: neutronTime(g.group.created_at),
    updated_at: neutronTime(g.group.updated_at),
    revision_number: g.group.revision_number,
  }
}

/** Keeps only the `fields` asked for (Neutron's `?fields=a&fields=b`); all when none. */
export function selectFields(item: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  if (fields.length === 0) return item
  return Object.fromEntries(Object.entries(item).filter(([k]) => fields.includes(k)))
}
