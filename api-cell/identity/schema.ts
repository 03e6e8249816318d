/**
 * Identity tables in the API database (Keystone v3 subset). Times are epoch milliseconds, booleans
 * 0/1 integers, free-form attributes JSON text: the same representation on MySQL and SQLite.
 */

/** A Keystone domain: a namespace for projects and users. `default` always exists. */
export interface DomainTable {
  id: string
  name: string
  description: string
  enabled: number
  created_at: number
}

/** A project (Nova's tenant). Its name is unique within its domain. */
export interface ProjectTable {
  id: string
  name: string
  domain_id: string
  description: string
  enabled: number
  /** JSON object of attributes Keystone calls "extra": stored and echoed, never interpreted. */
  extra: string
  created_at: number
  updated_at: number
}

/** A user. Its name is unique within its domain; the password is only ever stored hashed. */
export interface UserTable {
  id: string
  name: string
  domain_id: string
  /** `scrypt$<log2N>$<r>$<p>$<salt b64>$<hash b64>`, or null for a user who cannot log in with a password. */
  password_hash: string | null
  enabled: number
  default_project_id: string | null
  description: string | null
  /** JSON object of extra attributes (email, project_id as Tempest sends, ...). */
  extra: string
  created_at: number
  updated_at: number
}

/** A global role (admin, member, reader, or any created through the API). Names are unique. */
export interface RoleTable {
  id: string
  name: string
  description: string | null
  created_at: number
}

/** What a role assignment grants on: a project, a domain, or the whole deployment (system). */
export const ASSIGNMENT_TARGETS = ['project', 'domain', 'system'] as const
/** One of {@link ASSIGNMENT_TARGETS}. */
export type AssignmentTarget = (typeof ASSIGNMENT_TARGETS)[number]

/** A role granted to a user on a target (`target_id` is `all` for the system target). */
export interface RoleAssignmentTable {
  user_id: string
  target_type: AssignmentTarget
  target_id: string
  role_id: string
  created_at: number
}

/**
 * What a revocation applies to: one token chain (audit id), or every token of a user, scoped to a
 * project, or carrying a role (a deleted role).
 */
export const REVOCATION_KINDS = ['audit', 'user', 'project', 'role'] as const
/** One of {@link REVOCATION_KINDS}. */
export type RevocationKind = (typeof REVOCATION_KINDS)[number]

/**
 * A revocation event. Tokens of `kind`/`target_id` issued at or before `revoked_at` are invalid.
 * `expires_at` is when the event stops mattering (every token it covers has expired) and may be pruned.
 */
export interface TokenRevocationTable {
  kind: RevocationKind
  target_id: string
  revoked_at: number
  expires_at: number
}

/** The identity part of the API database schema. */
export interface IdentityTables {
  domains: DomainTable
  projects: ProjectTable
  users: UserTable
  roles: RoleTable
  role_assignments: RoleAssignmentTable
  token_revocations: TokenRevocationTable
}
