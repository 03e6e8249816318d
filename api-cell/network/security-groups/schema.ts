/**
 * The security group tables of the API database (see migrations.ts). Times are epoch ms, as in
 * every schema of ours; booleans are 0/1 integers (SQLite has no boolean type).
 */

/** One security group. */
export interface SecurityGroupsTable {
  id: string
  project_id: string
  name: string
  description: string
  /** 0/1; always 1 here (Neutron's `stateful`). */
  stateful: number
  revision_number: number
  created_at: number
  updated_at: number
}

/** One rule of a group, as Neutron stores it (`remote_ip_prefix` normalised). */
export interface SecurityGroupRulesTable {
  id: string
  project_id: string
  security_group_id: string
  direction: string
  ethertype: string
  protocol: string | null
  port_range_min: number | null
  port_range_max: number | null
  remote_ip_prefix: string | null
  remote_group_id: string | null
  description: string
  /**
   * Every field that makes two rules the same, joined: UNIQUE, so two concurrent creates of one
   * rule leave one row and the other caller gets `SecurityGroupRuleExists`.
   */
  fingerprint: string
  revision_number: number
  created_at: number
  updated_at: number
}

/**
 * Which group is each project's `default` (Neutron's `default_security_group`): the primary key on
 * `project_id` is what makes concurrent first uses of a project create exactly one group.
 */
export interface DefaultSecurityGroupsTable {
  project_id: string
  security_group_id: string
}

/** The groups of a port (Neutron's `securitygroupportbindings`); ports themselves live elsewhere. */
export interface SecurityGroupPortBindingsTable {
  port_id: string
  security_group_id: string
}

/** Rows whose update serialises the quota checks of one scope (as compute's `quota_locks`). */
export interface NetworkQuotaLocksTable {
  scope: string
  generation: number
}

/** The tables of this folder. */
export interface SecurityGroupTables {
  securitygroups: SecurityGroupsTable
  securitygrouprules: SecurityGroupRulesTable
  default_security_groups: DefaultSecurityGroupsTable
  securitygroupportbindings: SecurityGroupPortBindingsTable
  network_quota_locks: NetworkQuotaLocksTable
}
