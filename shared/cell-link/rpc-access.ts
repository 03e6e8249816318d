import { isWithin } from './types.js'
import { parentPathOf } from '../pki/cell-identity.js'

/**
 * Who may call which RPC of the Cell service (proto/cell.proto), checked on every call against
 * the cell path in the caller's certificate (mutual TLS, see cell-tls.ts).
 *
 * The tree has one direction of calls: a parent is the gRPC client of each of its children.
 * So every RPC, downward ones and the upward stream alike, is accepted only from the serving
 * cell's own parent; and a parent accepts answers and Watch streams only from the child it
 * dialled (its certificate must name that child; checked in cell-tls.ts), and only about that
 * child's subtree (see {@link outsideSubtree}). Nothing else (a sibling, a child calling up, a
 * grandparent skipping a hop, a process with no certificate or one from another CA) gets in.
 * User context (user, project, roles in the request's Context) is read only after this check,
 * so it is believed from an authenticated parent only.
 */
export const CELL_RPC_ACCESS = {
  Build: { caller: 'parent', why: 'places an instance, with the user context and quota decided above' },
  InstanceAction: { caller: 'parent', why: 'acts on any project instance with the user context given' },
  GetInstances: { caller: 'parent', why: 'full instance records, user_data included' },
  ListHosts: { caller: 'parent', why: 'the hosts and services of the subtree' },
  CellAdmin: { caller: 'parent', why: 'disables cells and hosts, adds and removes child cells' },
  Watch: { caller: 'parent', why: 'every instance event and capacity report of the subtree' },
  AckEvents: { caller: 'parent', why: 'lets the child forget outbox events' },
  ListInstanceVersions: { caller: 'parent', why: "pages through the subtree's instance versions (anti-entropy)" },
} as const satisfies Record<string, { caller: 'parent'; why: string }>

/** An RPC of the Cell service. */
export type CellRpc = keyof typeof CELL_RPC_ACCESS

/** The verdict on one call: allowed, or refused with the status class and a reason. */
export type AccessVerdict =
  | { readonly allowed: true; readonly caller: string }
  | { readonly allowed: false; readonly status: 'unauthenticated' | 'forbidden'; readonly reason: string }

/**
 * May the cell at `selfPath` serve `rpc` to a peer whose certificate names `peerPath` (undefined:
 * no authenticated cell identity)?
 */
export function checkCaller(rpc: string, selfPath: string, peerPath: string | undefined): AccessVerdict {
  if (peerPath === undefined) return { allowed: false, status: 'unauthenticated', reason: `${rpc} needs a cell certificate of the federation CA` }
  const rule = (CELL_RPC_ACCESS as Record<string, { caller: 'parent' } | undefined>)[rpc]
  if (rule === undefined) return { allowed: false, status: 'forbidden', reason: `${rpc} is not a known RPC` }
  const parent = parentPathOf(selfPath)
  if (parent !== undefined && peerPath === parent) return { allowed: true, caller: peerPath }
  return { allowed: false, status: 'forbidden', reason: `${rpc} on cell ${selfPath} is for its parent only, not ${peerPath}` }
}

/**
 * Entries a child sent up about cells outside its own subtree (a compromised or misconfigured
 * child may speak for itself and its descendants, never for a sibling): the parent drops them.
 */
export function outsideSubtree<T>(childPath: string, items: readonly T[], pathOf: (item: T) => string): T[] {
  return items.filter((i) => !isWithin(pathOf(i), childPath))
}
