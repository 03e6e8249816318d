/**
 * Who sent a bus message, as the transport vouches for it (never as the message body claims).
 *
 * Over RabbitMQ the principal is the AMQP `user_id` property, which the broker checks against the
 * connection's authenticated user (a publish whose `user_id` differs is refused), so a compute host
 * cannot speak as the conductor. On the in-process bus it is the identity the service's bus view
 * was created with (see `InProcessBus.as`). A message without one is {@link ANONYMOUS}.
 *
 * Principal names follow one grammar, so that any receiver can tell a role from a name without a
 * directory: `<scope>/<role>` for `conductor`, `scheduler` and `agent`, and
 * `<scope>/compute/<host>+<host>...` for a compute process with the hosts it serves. The scope is
 * the cell's vhost in production and the cell path in embedded mode. Any other authenticated name
 * (an operator's broker user, `guest` on a development broker) is an `operator`.
 *
 * @module
 */
import { ForbiddenError } from '../errors.js'

/** The roles of a cell's services, plus the two kinds of callers that are not one of them. */
export const CALLER_ROLES = ['conductor', 'scheduler', 'compute', 'agent', 'operator', 'anonymous'] as const
/** One of {@link CALLER_ROLES}. */
export type CallerRole = (typeof CALLER_ROLES)[number]
/** The roles that run as a cell service and so have principals of their own. */
export type ServiceRole = Exclude<CallerRole, 'operator' | 'anonymous'>

/** The sender of a message, as the bus vouches for it. */
export interface Caller {
  /** The broker-validated user name (AMQP `user_id`), or the in-process view's identity. */
  readonly principal: string | undefined
  readonly role: CallerRole
  /** For `compute`: the hosts this caller serves, and so the only hosts it may act for. */
  readonly hosts: readonly string[]
}

/** A message that carried no identity. Servers refuse it (see each service's caller policy). */
export const ANONYMOUS: Caller = Object.freeze({ principal: undefined, role: 'anonymous', hosts: Object.freeze([]) })

const SEPARATOR = '/'
const HOSTS_SEPARATOR = '+'
/** AMQP short strings (what `user_id` is) hold at most 255 bytes. */
export const MAX_PRINCIPAL_BYTES = 255

/**
 * The principal name of a service of a cell.
 *
 * @example
 * principalName('federation.api.region-one.dc1', 'conductor')              // 'federation.api.region-one.dc1/conductor'
 * principalName('api!region-two', 'compute', ['host-1', 'host-2'])         // 'api!region-two/compute/host-1+host-2'
 */
export function principalName(scope: string, role: ServiceRole, hosts: readonly string[] = []): string {
  if (role !== 'compute') return `${scope}${SEPARATOR}${role}`
  if (hosts.length === 0) throw new Error('a compute principal names at least one host')
  return `${scope}${SEPARATOR}compute${SEPARATOR}${hosts.join(HOSTS_SEPARATOR)}`
}

/** What a principal name says about its holder; `undefined` (no identity) is {@link ANONYMOUS}. */
export function callerOf(principal: string | undefined): Caller {
  if (principal === undefined || principal === '') return ANONYMOUS
  const parts = principal.split(SEPARATOR)
  const last = parts.at(-1) ?? ''
  if (parts.length >= 3 && parts.at(-2) === 'compute') {
    const hosts = last.split(HOSTS_SEPARATOR).filter((h) => h !== '')
    if (hosts.length > 0) return Object.freeze({ principal, role: 'compute', hosts: Object.freeze(hosts) })
  }
  if (parts.length >= 2 && (last === 'conductor' || last === 'scheduler' || last === 'agent')) {
    return Object.freeze({ principal, role: last, hosts: Object.freeze([]) })
  }
  return Object.freeze({ principal, role: 'operator', hosts: Object.freeze([]) })
}

/** Whether `caller` has one of `roles`. */
export function callerIs(caller: Caller, ...roles: readonly CallerRole[]): boolean {
  return roles.includes(caller.role)
}

/**
 * Refuses (403) a message to `service` unless its sender has one of `allowed` roles: the check every
 * server of a cell makes before it acts, since the broker's permissions alone cannot keep a compute
 * host from reaching a queue by name (replying to calls needs the default exchange).
 *
 * @example
 * requireCaller(caller, 'scheduler', ['conductor', 'operator'])
 */
export function requireCaller(caller: Caller, service: string, allowed: readonly CallerRole[]): void {
  if (allowed.includes(caller.role)) return
  throw new ForbiddenError(`${service} refused a message from ${caller.role === 'anonymous' ? 'a sender without identity' : `${caller.role} ${caller.principal ?? ''}`.trim()}`, {
    principal: caller.principal,
    role: caller.role,
  })
}
