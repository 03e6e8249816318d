import type { ErrorRequestHandler } from 'express'
import { AppError } from '../../../shared/errors.js'
import type { ErrorLogger } from '../../identity/http-errors.js'
import { toHttpFailure } from '../../identity/http-errors.js'

/**
 * Neutron's errors: a named exception class (`SecurityGroupNotFound`, `OverQuota`...) with an HTTP
 * status. The class name travels as `NeutronError.type`, which openstacksdk and the neutron client
 * show and some callers branch on, so it is kept apart from our stable `code`.
 */
export class NeutronFault extends AppError {
  /** Neutron's exception class name, the body's `type`. */
  readonly type: string

  constructor(args: { readonly type: string; readonly status: number; readonly message: string }) {
    // `neutronType` too: the port service's fault renderer reads it (a group named by a port).
    super({ code: `neutron_${args.type}`, status: args.status, message: args.message, fields: { neutronType: args.type } })
    this.type = args.type
  }
}

/** 404 with Neutron's type, e.g. `notFound('SecurityGroupNotFound', 'Security group X does not exist')`. */
export function notFound(type: string, message: string): NeutronFault {
  return new NeutronFault({ type, status: 404, message })
}

/** 400 with Neutron's type (`HTTPBadRequest` for plain attribute validation). */
export function badRequest(message: string, type = 'HTTPBadRequest'): NeutronFault {
  return new NeutronFault({ type, status: 400, message })
}

/** 409 with Neutron's type (`SecurityGroupInUse`, `SecurityGroupRuleExists`...). */
export function conflict(type: string, message: string): NeutronFault {
  return new NeutronFault({ type, status: 409, message })
}

/** 409 `OverQuota`, worded as neutron-lib does: `Quota exceeded for resources: ['security_group'].` */
export function overQuota(resource: string): NeutronFault {
  return conflict('OverQuota', `Quota exceeded for resources: ['${resource}'].`)
}

/** 403 from the policy engine, worded as Neutron's. */
export function policyForbidden(action: string): NeutronFault {
  return new NeutronFault({ type: 'PolicyNotAuthorized', status: 403, message: `((rule:${action})) is disallowed by policy` })
}

/** webob's exception class names, which Neutron uses as `type` for errors without a class of their own. */
const WEBOB_TYPES: Readonly<Record<number, string>> = {
  400: 'HTTPBadRequest',
  401: 'HTTPUnauthorized',
  403: 'HTTPForbidden',
  404: 'HTTPNotFound',
  405: 'HTTPMethodNotAllowed',
  409: 'HTTPConflict',
  413: 'HTTPRequestEntityTooLarge',
  415: 'HTTPUnsupportedMediaType',
  503: 'HTTPServiceUnavailable',
}

/** Neutron's fault body: `{"NeutronError": {"type": "...", "message": "...", "detail": ""}}`. */
export function neutronFaultBody(type: string, message: string): { NeutronError: { type: string; message: string; detail: string } } {
  return { NeutronError: { type, message, detail: '' } }
}

/**
 * The error middleware of the network routers: {@link NeutronFault}s keep their type, our other
 * errors take webob's name for their status, a database that stayed away is a 503 with
 * `Retry-After`, and anything unexpected is a 500 whose details reach only the log.
 */
export function neutronErrorHandler(options: { readonly logger?: ErrorLogger } = {}): ErrorRequestHandler {
  return (err: unknown, req, res, next): void => {
    if (res.headersSent) {
      next(err)
      return
    }
    const f = toHttpFailure(err)
    if (f.unexpected) options.logger?.error({ err, method: req.method, path: req.path }, 'network request failed')
    if (f.retryAfter !== undefined) res.setHeader('Retry-After', String(f.retryAfter))
    const type = err instanceof NeutronFault ? err.type : (WEBOB_TYPES[f.status] ?? (f.status >= 500 ? 'HTTPInternalServerError' : 'HTTPBadRequest'))
    const message = f.status >= 500 && !(err instanceof AppError && err.safe) ? 'Request Failed: internal server error while processing your request.' : f.message
    res.status(f.status).json(neutronFaultBody(type, message))
  }
}
