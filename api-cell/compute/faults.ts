import type { NextFunction, Request, Response } from 'express'
import { isTransientDbError } from '../../shared/db/transient-errors.js'
import { AppError, DatabaseUnavailableError, retryAfterOf } from '../../shared/errors.js'
import type { Logger } from '../../shared/logging.js'

const FAULT_NAMES: Readonly<Record<number, string>> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  406: 'notAcceptable',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
}

/** Nova's fault body: `{"itemNotFound": {"code": 404, "message": "..."}}`. */
export function faultBody(status: number, message: string): Record<string, { code: number; message: string }> {
  return { [FAULT_NAMES[status] ?? 'computeFault']: { code: status, message } }
}

/**
 * The one place compute errors become HTTP: our errors map to their status (unsafe messages are
 * replaced), body-parser's errors to 400/413/415, a database that stayed away to 503 with
 * `Retry-After`, anything else to a 500 whose details only reach the log.
 */
export function computeErrorHandler(log: Logger) {
  return (thrown: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    let err = thrown
    let status = 500
    let message = 'Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.'
    if (!(err instanceof AppError) && isTransientDbError(err)) err = new DatabaseUnavailableError(undefined, undefined, err)
    if (err instanceof AppError) {
      status = err.status >= 400 && err.status < 600 ? err.status : 500
      if (err.safe) message = err.message
    } else if (isHttpError(err)) {
      // body-parser's and the router's own errors (bad JSON, too large, undecodable parameter).
      status = err.status
      message = err.type === 'entity.parse.failed' ? 'Malformed request body' : err.expose === true ? err.message : 'Bad request'
    }
    if (status >= 500) log.error({ requestId: res.locals.requestId, err: err instanceof Error ? err.stack : String(err) }, 'compute API error')
    // A 503 (database or cell away) says when to come back, as Nova's does behind a proxy.
    if (status === 503) res.setHeader('Retry-After', String(retryAfterOf(err)))
    res.status(status).json(faultBody(status, message))
  }
}

function isHttpError(err: unknown): err is { status: number; message: string; type?: string; expose?: boolean } {
  const e = err as { status?: unknown } | null
  return typeof e?.status === 'number' && e.status >= 400 && e.status < 500
}
