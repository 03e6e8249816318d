import { randomUUID } from 'node:crypto'

/**
 * Travels with every I/O call, across HTTP, gRPC and AMQP: the request id (for one grep across
 * every cell), who asked, and the absolute deadline (epoch milliseconds) after which nobody should
 * keep working on it.
 */
export interface RequestContext {
  readonly requestId: string
  readonly userId?: string
  readonly projectId?: string
  readonly roles?: readonly string[]
  readonly deadline?: number
}

/** A new request id in OpenStack's form (`req-<uuid>`). */
export function newRequestId(): string {
  return `req-${randomUUID()}`
}

/** A context for work that no user asked for (periodic tasks, start-up). */
export function systemContext(deadlineMs?: number): RequestContext {
  return {
    requestId: newRequestId(),
    roles: ['admin'],
    ...(deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs }),
  }
}

/** Milliseconds left before the context's deadline, or `fallback` when it has none. */
export function remainingMs(ctx: RequestContext, fallback: number): number {
  return ctx.deadline === undefined ? fallback : Math.max(0, ctx.deadline - Date.now())
}
