import type { RequestContext } from '../../shared/context.js'
import type { CellTree } from '../cells/cell-tree.js'

/** How long an administrative call down the tree may take. */
export const ADMIN_CALL_DEADLINE_MS = 10_000

/**
 * Runs a CellAdmin operation on the cell at `path` (routed down the tree to its agent, which
 * handles it or hands it to its conductor as `admin_<op>`), with a deadline of its own so that an
 * unreachable cell fails the request in seconds rather than hang it.
 */
export function askCell(tree: CellTree, ctx: RequestContext, path: string, op: string, args: unknown): Promise<unknown> {
  return tree.clientFor(path).cellAdmin(askTimeoutContext(ctx), { cellPath: path, op, args })
}

/** `ctx` with a deadline at most {@link ADMIN_CALL_DEADLINE_MS} away. */
export function askTimeoutContext(ctx: RequestContext): RequestContext {
  return { ...ctx, deadline: Math.min(ctx.deadline ?? Infinity, Date.now() + ADMIN_CALL_DEADLINE_MS) }
}

/** An error's message for a warning or a one-line reason. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))
