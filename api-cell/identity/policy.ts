import { ForbiddenError } from '../../shared/errors.js'

/**
 * Identity policy: a table in code, as Keystone's policy-in-code defaults, reduced to three roles.
 * `admin` implies `member`, which implies `reader` (tokens carry the implied roles too).
 */

/** The roles bootstrap creates, strongest first. */
export const ROLES = ['admin', 'member', 'reader'] as const
/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number]

/** Roles each role implies (Keystone's implied roles after `keystone-manage bootstrap`). */
export const IMPLIED_ROLES: Readonly<Record<Role, readonly Role[]>> = Object.freeze({
  admin: ['member', 'reader'],
  member: ['reader'],
  reader: [],
})

/** Every identity policy rule. */
export const POLICY_RULES = [
  'identity:list_regions',
  'identity:get_region',
  'identity:list_services',
  'identity:list_endpoints',
  'identity:get_catalog',
  'identity:list_domains',
  'identity:get_domain',
  'identity:list_projects',
  'identity:get_project',
  'identity:create_project',
  'identity:update_project',
  'identity:delete_project',
  'identity:list_user_projects',
  'identity:list_users',
  'identity:get_user',
  'identity:create_user',
  'identity:update_user',
  'identity:delete_user',
  'identity:list_roles',
  'identity:get_role',
  'identity:create_role',
  'identity:delete_role',
  'identity:create_grant',
  'identity:check_grant',
  'identity:revoke_grant',
  'identity:list_role_assignments',
  'identity:validate_token',
  'identity:revoke_token',
] as const
/** One of {@link POLICY_RULES}. */
export type PolicyRule = (typeof POLICY_RULES)[number]

/** What an ownership clause compares: the target's user, project or domain against the caller's. */
export const OWNER_KINDS = ['user', 'project', 'domain'] as const
/** One of {@link OWNER_KINDS}. */
export type OwnerKind = (typeof OWNER_KINDS)[number]

/** When a rule passes. */
export interface PolicyEntry {
  /** Any of these roles passes whatever the target; `any` lets every authenticated caller pass. */
  readonly roles: readonly Role[] | 'any'
  /** Also passes, with any role or none, when the target is the caller's own user/project/domain. */
  readonly owner?: OwnerKind
}

const ADMIN: PolicyEntry = { roles: ['admin'] }

/** The policy table. */
export const POLICY: Readonly<Record<PolicyRule, PolicyEntry>> = Object.freeze({
  'identity:list_regions': { roles: 'any' },
  'identity:get_region': { roles: 'any' },
  'identity:list_services': ADMIN,
  'identity:list_endpoints': ADMIN,
  'identity:get_catalog': { roles: 'any' },
  'identity:list_domains': ADMIN,
  'identity:get_domain': { roles: ['admin'], owner: 'domain' },
  'identity:list_projects': ADMIN,
  'identity:get_project': { roles: ['admin'], owner: 'project' },
  'identity:create_project': ADMIN,
  'identity:update_project': ADMIN,
  'identity:delete_project': ADMIN,
  'identity:list_user_projects': { roles: ['admin'], owner: 'user' },
  'identity:list_users': ADMIN,
  'identity:get_user': { roles: ['admin'], owner: 'user' },
  'identity:create_user': ADMIN,
  'identity:update_user': ADMIN,
  'identity:delete_user': ADMIN,
  'identity:list_roles': ADMIN,
  'identity:get_role': ADMIN,
  'identity:create_role': ADMIN,
  'identity:delete_role': ADMIN,
  'identity:create_grant': ADMIN,
  'identity:check_grant': ADMIN,
  'identity:revoke_grant': ADMIN,
  'identity:list_role_assignments': ADMIN,
  'identity:validate_token': { roles: ['admin'], owner: 'user' },
  'identity:revoke_token': { roles: ['admin'], owner: 'user' },
})

/** Who asks: what a token says about the caller. */
export interface PolicySubject {
  readonly userId: string
  readonly roles: readonly string[]
  /** The project the token is scoped to, if any. */
  readonly projectId?: string | undefined
  /** The domain the token is scoped to, or the domain of its project. */
  readonly domainId?: string | undefined
}

/** What the request acts on, for ownership clauses. */
export interface PolicyTarget {
  readonly userId?: string | undefined
  readonly projectId?: string | undefined
  readonly domainId?: string | undefined
}

/** `true` when `rule` lets `subject` act on `target`. */
export function isAllowed(subject: PolicySubject, rule: PolicyRule, target: PolicyTarget = {}): boolean {
  const entry = POLICY[rule]
  if (entry.roles === 'any' || entry.roles.some((r) => subject.roles.includes(r))) return true
  switch (entry.owner) {
    case 'user':
      return target.userId !== undefined && target.userId === subject.userId
    case 'project':
      return target.projectId !== undefined && target.projectId === subject.projectId
    case 'domain':
      return target.domainId !== undefined && target.domainId === subject.domainId
    case undefined:
      return false
  }
}

/**
 * Throws {@link ForbiddenError} (403) unless `rule` lets `subject` act on `target`.
 *
 * @example
 *   authorize(auth, 'identity:get_project', { projectId: req.params.id })
 */
export function authorize(subject: PolicySubject, rule: PolicyRule, target: PolicyTarget = {}): void {
  if (!isAllowed(subject, rule, target)) {
    throw new ForbiddenError(`You are not authorized to perform the requested action: ${rule}.`, { rule })
  }
}

/** `roleNames` plus every role they imply, without duplicates, in a stable order. */
export function withImpliedRoles(roleNames: readonly string[]): string[] {
  const out = new Set<string>()
  const visit = (name: string): void => {
    if (out.has(name)) return
    out.add(name)
    if (Object.hasOwn(IMPLIED_ROLES, name)) IMPLIED_ROLES[name as Role].forEach(visit)
  }
  roleNames.forEach(visit)
  return [...out]
}
