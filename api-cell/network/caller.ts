import { NeutronError } from './faults.js'

/**
 * Who asks, as the network service decides what they see: a project (admin or not) through one
 * endpoint, the federation-wide one (`region` null) or a region's.
 */
export interface NetCaller {
  readonly projectId: string
  readonly isAdmin: boolean
  /** The region of the endpoint the request came through; null: the federation-wide endpoint. */
  readonly region: string | null
}

/** What a network looks like to visibility rules. */
export interface Owned {
  readonly project_id: string
  readonly shared?: number
  readonly external?: number
  readonly region?: string | null
}

/**
 * Neutron's read policy: admin sees all, a project its own plus shared and external networks.
 * A region's endpoint sees its region's networks and the federation-wide ones only.
 */
export function canSee(caller: NetCaller, n: Owned): boolean {
  if (caller.region !== null && n.region !== undefined && n.region !== null && n.region !== caller.region) return false
  return caller.isAdmin || n.project_id === caller.projectId || n.shared === 1 || n.external === 1
}

/** Neutron's write policy: the owner or admin. */
export function canModify(caller: NetCaller, n: Owned): boolean {
  return caller.isAdmin || n.project_id === caller.projectId
}

/** Neutron's 403 for an action its policy refuses. */
export function policyRefused(action: string): NeutronError {
  return new NeutronError({ type: 'PolicyNotAuthorized', status: 403, message: `(rule:${action}) is disallowed by policy` })
}
