/**
 * One error family for the whole federation. Every error carries a stable `code`, the HTTP status
 * the compute API maps it to, and `safe` (may its message reach an API user?). Errors cross AMQP
 * and gRPC as {@link WireError} and are rebuilt with {@link fromWire} where the caller expects them.
 */
export interface WireError {
  readonly code: string
  readonly message: string
  readonly fields?: Readonly<Record<string, unknown>>
}

/** Base class: never thrown directly. */
export class AppError extends Error {
  readonly code: string
  readonly status: number
  readonly safe: boolean
  readonly fields: Readonly<Record<string, unknown>>

  constructor(args: {
    code: string
    status: number
    message: string
    safe?: boolean
    fields?: Record<string, unknown>
    cause?: unknown
  }) {
    super(args.message, args.cause === undefined ? undefined : { cause: args.cause })
    this.name = new.target.name
    this.code = args.code
    this.status = args.status
    this.safe = args.safe ?? true
    this.fields = Object.freeze({ ...(args.fields ?? {}) })
  }

  toWire(): WireError {
    return { code: this.code, message: this.message, fields: this.fields }
  }
}

/** 404: the thing does not exist, or the caller may not know it does. */
export class NotFoundError extends AppError {
  constructor(message: string, fields?: Record<string, unknown>) {
    super({ code: 'not_found', status: 404, message, fields })
  }
}

/** 400: the request is malformed or names invalid values. */
export class InvalidError extends AppError {
  constructor(message: string, fields?: Record<string, unknown>) {
    super({ code: 'invalid', status: 400, message, fields })
  }
}

/** 401: no or bad credentials. */
export class UnauthorizedError extends AppError {
  constructor(message = 'The request you have made requires authentication.') {
    super({ code: 'unauthorized', status: 401, message })
  }
}

/** 403: authenticated but not allowed by policy. */
export class ForbiddenError extends AppError {
  constructor(message: string, fields?: Record<string, unknown>) {
    super({ code: 'forbidden', status: 403, message, fields })
  }
}

/** 409: the resource is in a state that does not allow the request. */
export class ConflictError extends AppError {
  constructor(message: string, fields?: Record<string, unknown>) {
    super({ code: 'conflict', status: 409, message, fields })
  }
}

/** 403 (Nova's choice): the request would exceed a quota. */
export class OverQuotaError extends AppError {
  constructor(message: string, fields?: Record<string, unknown>) {
    super({ code: 'over_quota', status: 403, message, fields })
  }
}

/** No host (or no cell) can take the build. Not an API error: it ends in an ERROR instance. */
export class NoValidHostError extends AppError {
  constructor(message: string, fields?: Record<string, unknown>) {
    super({ code: 'no_valid_host', status: 500, message, fields })
  }
}

/** An RPC call got no answer before its deadline. */
export class RpcTimeoutError extends AppError {
  constructor(message: string, fields?: Record<string, unknown>) {
    super({ code: 'rpc_timeout', status: 504, message, safe: false, fields })
  }
}

/** A child cell could not be reached over gRPC. */
export class CellUnreachableError extends AppError {
  constructor(message: string, fields?: Record<string, unknown>) {
    super({ code: 'cell_unreachable', status: 503, message, fields })
  }
}

/** 501: the operation exists in the API but this deployment cannot perform it. */
export class NotImplementedError extends AppError {
  constructor(message: string, fields?: Record<string, unknown>) {
    super({ code: 'not_implemented', status: 501, message, fields })
  }
}

/** Anything unexpected: its message never reaches an API user. */
export class InternalError extends AppError {
  constructor(message: string, cause?: unknown) {
    super({ code: 'internal', status: 500, message, safe: false, cause })
  }
}

/**
 * 503: the database stayed unreachable (or kept failing transiently) through every retry. Nothing was
 * done, or the outcome of one write is unknown; the client should try again after
 * `retryAfterSeconds` (the APIs send it as `Retry-After`).
 */
export class DatabaseUnavailableError extends AppError {
  constructor(message = 'The service is temporarily unavailable (database unreachable), retry later.', fields?: Record<string, unknown>, cause?: unknown) {
    super({ code: 'database_unavailable', status: 503, message, fields: { retryAfterSeconds: 2, ...fields }, cause })
  }
}

/** Seconds a client should wait before retrying a 503 (the error's own hint, else 2). */
export function retryAfterOf(err: unknown): number {
  const v = err instanceof AppError ? err.fields['retryAfterSeconds'] : undefined
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.ceil(v) : 2
}

const byCode: Readonly<Record<string, (m: string, f?: Record<string, unknown>) => AppError>> = {
  not_found: (m, f) => new NotFoundError(m, f),
  invalid: (m, f) => new InvalidError(m, f),
  unauthorized: (m) => new UnauthorizedError(m),
  forbidden: (m, f) => new ForbiddenError(m, f),
  conflict: (m, f) => new ConflictError(m, f),
  over_quota: (m, f) => new OverQuotaError(m, f),
  no_valid_host: (m, f) => new NoValidHostError(m, f),
  rpc_timeout: (m, f) => new RpcTimeoutError(m, f),
  cell_unreachable: (m, f) => new CellUnreachableError(m, f),
  not_implemented: (m, f) => new NotImplementedError(m, f),
  database_unavailable: (m, f) => new DatabaseUnavailableError(m, f),
}

/** Turns any thrown value into its wire form. Unknown errors keep their message but lose their stack. */
export function toWire(err: unknown): WireError {
  if (err instanceof AppError) return err.toWire()
  const message = err instanceof Error ? err.message : String(err)
  return { code: 'internal', message }
}

/** Rebuilds an error received over AMQP or gRPC into the matching class. */
export function fromWire(wire: WireError): AppError {
  const make = byCode[wire.code]
  if (make !== undefined) return make(wire.message, wire.fields as Record<string, unknown> | undefined)
  return new InternalError(wire.message)
}
