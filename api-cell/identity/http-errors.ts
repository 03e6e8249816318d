import type { ErrorRequestHandler } from 'express'
import { isTransientDbError } from '../../shared/db/transient-errors.js'
import { AppError, DatabaseUnavailableError, retryAfterOf } from '../../shared/errors.js'

/** An error reduced to what an HTTP response may say about it. */
export interface HttpFailure {
  readonly status: number
  readonly title: string
  /** Safe to show the caller. */
  readonly message: string
  /** Unexpected (a 5xx that is not an {@link AppError} with a safe message): worth a log line. */
  readonly unexpected: boolean
  /** Seconds for a `Retry-After` header (503 only). */
  readonly retryAfter?: number
}

const TITLES: Readonly<Record<number, string>> = Object.freeze({
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
})

const UNEXPECTED = 'An unexpected error prevented the server from fulfilling your request.'

/**
 * Maps anything thrown to a status and a message that may reach the caller: {@link AppError}s by their
 * status (message only when `safe`), body-parser's errors (bad JSON, too large) by theirs, transient
 * database failures to 503, anything else to 500 without detail.
 */
export function toHttpFailure(thrown: unknown): HttpFailure {
  // A database that stayed away through the retries is a 503 with Retry-After, never a 500.
  const err = !(thrown instanceof AppError) && isTransientDbError(thrown) ? new DatabaseUnavailableError(undefined, undefined, thrown) : thrown
  if (err instanceof AppError) {
    return {
      status: err.status,
      title: titleOf(err.status),
      message: err.safe ? err.message : UNEXPECTED,
      unexpected: !err.safe,
      ...(err.status === 503 ? { retryAfter: retryAfterOf(err) } : {}),
    }
  }
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown; type?: unknown; message?: unknown } | null
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500
  if (status >= 400 && status < 500) {
    const message =
      e?.type === 'entity.parse.failed'
        ? 'The request body is not valid JSON.'
        : e?.expose === true && typeof e.message === 'string'
          ? e.message
          : titleOf(status)
    return { status, title: titleOf(status), message, unexpected: false }
  }
  return { status: 500, title: titleOf(500), message: UNEXPECTED, unexpected: true }
}

/** The reason phrase of `status`. */
export function titleOf(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error')
}

/** Keystone's (and our Glance's) fault body: `{"error":{"code":N,"title":"...","message":"..."}}`. */
export function keystoneFaultBody(status: number, message: string): { error: { code: number; title: string; message: string } } {
  return { error: { code: status, title: titleOf(status), message } }
}

/** Where unexpected errors are reported (pino's `logger.error(obj, msg)` fits). */
export interface ErrorLogger {
  error(obj: Readonly<Record<string, unknown>>, msg: string): void
}

/**
 * Keystone's error renderer: `{"error":{"code":401,"title":"Unauthorized","message":"..."}}`, with
 * `WWW-Authenticate: Keystone uri="<publicUrl>"` on 401 as Keystone sends it.
 */
export function keystoneErrorHandler(options: { readonly publicUrl?: string; readonly logger?: ErrorLogger } = {}): ErrorRequestHandler {
  return (err: unknown, req, res, next): void => {
    if (res.headersSent) {
      next(err)
      return
    }
    const f = toHttpFailure(err)
    if (f.unexpected) options.logger?.error({ err, method: req.method, path: req.path }, 'identity request failed')
    if (f.status === 401 && options.publicUrl !== undefined) res.setHeader('WWW-Authenticate', `Keystone uri="${options.publicUrl}"`)
    if (f.retryAfter !== undefined) res.setHeader('Retry-After', String(f.retryAfter))
    res.status(f.status).json(keystoneFaultBody(f.status, f.message))
  }
}
