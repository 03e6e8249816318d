import type { ErrorRequestHandler } from 'express'
import { AppError } from '../../shared/errors.js'
import { keystoneFaultBody, toHttpFailure } from '../identity/http-errors.js'
import type { ErrorLogger } from '../identity/http-errors.js'

/**
 * Glance's errors as JSON: `{"error":{"code":404,"title":"Not Found","message":"..."}}`.
 *
 * Glance itself answers webob HTML pages. We answer JSON, nested under one key, because that is the
 * shape both clients parse: python-glanceclient collects `message` from each top-level *object*
 * (a flat `{"code":...,"message":...}` makes it crash on `int.get`), and openstacksdk does the same
 * with a fallback to the root. Use it as the image listener's error middleware too, so that the auth
 * middleware's 401 renders the same way.
 */
export function glanceErrorHandler(options: { readonly logger?: ErrorLogger } = {}): ErrorRequestHandler {
  return (err: unknown, req, res, next): void => {
    if (res.headersSent) {
      // The body is streaming (a download): all we can do is cut the connection.
      next(err)
      return
    }
    const f = toHttpFailure(err)
    if (f.unexpected) options.logger?.error({ err, method: req.method, path: req.path }, 'image request failed')
    if (f.retryAfter !== undefined) res.setHeader('Retry-After', String(f.retryAfter))
    res.status(f.status).json(keystoneFaultBody(f.status, f.message))
  }
}

/** 415: the request body has a media type the route does not take. */
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string) {
    super({ code: 'unsupported_media_type', status: 415, message })
  }
}
