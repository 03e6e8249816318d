import type { ErrorRequestHandler } from 'express'
import { AppError } from '../../shared/errors.js'
import type { ErrorLogger } from '../identity/http-errors.js'
import { toHttpFailure } from '../identity/http-errors.js'

/**
 * One Neutron condition (`NetworkNotFound`, `IpAddressAlreadyAllocated`, `OverQuota`...): an
 * {@link AppError} whose `type` is the exception name neutronclient and openstacksdk read from
 * `{"NeutronError": {"type", "message", "detail"}}`.
 */
export class NeutronError extends AppError {
  readonly type: string

  constructor(args: { readonly type: string; readonly status: number; readonly message: string }) {
    super({ code: `neutron_${args.type}`, status: args.status, message: args.message, fields: { neutronType: args.type } })
    this.type = args.type
  }
}

/** 404 `<Kind>NotFound`, e.g. `NetworkNotFound`. */
export function notFound(kind: 'Network' | 'Subnet' | 'Port' | 'Extension', id: string): NeutronError {
  const what = kind === 'Extension' ? `Extension with alias ${id} does not exist` : `${kind} ${id} could not be found.`
  return new NeutronError({ type: `${kind}NotFound`, status: 404, message: what })
}

/** 400 `HTTPBadRequest` / `InvalidInput`: the request names invalid values. */
export function badRequest(message: string, type = 'HTTPBadRequest'): NeutronError {
  return new NeutronError({ type, status: 400, message })
}

/** 409 `OverQuota`, in Neutron's words. */
export function overQuota(resource: string): NeutronError {
  return new NeutronError({ type: 'OverQuota', status: 409, message: `Quota exceeded for resources: ['${resource}'].` })
}

/** Neutron's exception name for a status, for errors that carry none of their own. */
const TYPES: Readonly<Record<number, string>> = {
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

/** The body Neutron answers a failure with. */
export function neutronFaultBody(status: number, message: string, type?: string): { NeutronError: { type: string; message: string; detail: string } } {
  return { NeutronError: { type: type ?? TYPES[status] ?? 'HTTPInternalServerError', message, detail: '' } }
}

/**
 * The network listener's one fault renderer: every error, the auth middleware's 401 included,
 * becomes `{"NeutronError": {...}}` with the right status.
 */
export function neutronErrorHandler(options: { readonly logger?: ErrorLogger } = {}): ErrorRequestHandler {
  return (err: unknown, req, res, _next): void => {
    const f = toHttpFailure(err)
    if (f.unexpected) options.logger?.error({ err, method: req.method, path: req.path }, 'network request failed')
    if (f.retryAfter !== undefined) res.setHeader('Retry-After', String(f.retryAfter))
    const type = err instanceof NeutronError ? err.type : err instanceof AppError && typeof err.fields['neutronType'] === 'string' ? err.fields['neutronType'] : undefined
    res.status(f.status).json(neutronFaultBody(f.status, f.message, type))
  }
}
