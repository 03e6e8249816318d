import { ForbiddenError } from '../../shared/errors.js'
import type { AuthContext } from '../identity/auth.js'

/** Every rule of the cell administration API. */
export const ADMIN_POLICY_RULES = [
  'cells:list',
  'cells:show',
  'cells:create',
  'cells:update',
  'cells:disable',
  'cells:delete',
  'cells:drain',
  'hosts:list',
  'hosts:discover',
  'hosts:delete',
  'instances:verify',
  'cell0:map',
  'capacity:show',
  'cells:outbox',
  'builds:list',
  'instances:list',
] as const
/** One of {@link ADMIN_POLICY_RULES}. */
export type AdminPolicyRule = (typeof ADMIN_POLICY_RULES)[number]

const ADMIN: readonly string[] = Object.freeze(['admin'])

/**
 * The roles each rule requires: all of them `admin`, as `nova-manage` needs the database
 * credentials. A table rather than a check in every route, so that a reader rule (e.g. letting
 * `reader` list cells) is one line.
 */
export const ADMIN_POLICY: Readonly<Record<AdminPolicyRule, readonly string[]>> = Object.freeze({
  'cells:list': ADMIN,
  'cells:show': ADMIN,
  'cells:create': ADMIN,
  'cells:update': ADMIN,
  'cells:disable': ADMIN,
  'cells:delete': ADMIN,
  'cells:drain': ADMIN,
  'hosts:list': ADMIN,
  'hosts:discover': ADMIN,
  'hosts:delete': ADMIN,
  'instances:verify': ADMIN,
  'cell0:map': ADMIN,
  'capacity:show': ADMIN,
  'cells:outbox': ADMIN,
  'builds:list': ADMIN,
  'instances:list': ADMIN,
})

/** Throws {@link ForbiddenError} (403) unless the caller holds a role `rule` accepts. */
export function authorizeAdmin(auth: Pick<AuthContext, 'roles'>, rule: AdminPolicyRule): void {
  if (!ADMIN_POLICY[rule].some((r) => auth.roles.includes(r))) {
    throw new ForbiddenError(`Policy doesn't allow ${rule} to be performed.`, { rule })
  }
}
