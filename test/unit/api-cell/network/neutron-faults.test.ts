import { describe, expect, it } from 'vitest'
import { DatabaseUnavailableError, NotFoundError } from '../../../../shared/errors.js'
import { conflict, neutronErrorHandler } from '../../../../api-cell/network/security-groups/neutron-faults.js'

/** Runs the handler on `err` and returns what it answered. */
function render(err: unknown): { status: number; body: any; headers: Record<string, string>; logged: number } {
  const out = { status: 0, body: undefined as any, headers: {} as Record<string, string>, logged: 0 }
  const res = {
    headersSent: false,
    status(s: number) {
      out.status = s
      return this
    },
    json(b: unknown) {
      out.body = b
      return this
    },
    setHeader(k: string, v: string) {
      out.headers[k] = v
    },
  }
  const logger = { error: () => void out.logged++ }
  neutronErrorHandler({ logger })(err, { method: 'GET', path: '/v2.0/x' } as never, res as never, () => undefined)
  return out
}

describe("Neutron's fault body", () => {
  it.each([
    [conflict('SecurityGroupInUse', 'Security Group x in use.'), 409, 'SecurityGroupInUse', 'Security Group x in use.'],
    [new NotFoundError('gone'), 404, 'HTTPNotFound', 'gone'],
    [Object.assign(new Error('bad json'), { status: 400, type: 'entity.parse.failed' }), 400, 'HTTPBadRequest', 'The request body is not valid JSON.'],
  ])('renders %s', (err, status, type, message) => {
    const r = render(err)
    expect(r.status).toBe(status)
    expect(r.body).toEqual({ NeutronError: { type, message, detail: '' } })
    expect(r.logged).toBe(0)
  })

  it('hides unexpected errors behind a 500 and logs them', () => {
    const r = render(new Error('secret stack details'))
    expect(r.status).toBe(500)
    expect(r.body.NeutronError.type).toBe('HTTPInternalServerError')
    expect(JSON.stringify(r.body)).not.toContain('secret')
    expect(r.logged).toBe(1)
  })

  it('answers a database that stayed away with 503 and Retry-After', () => {
    const r = render(new DatabaseUnavailableError())
    expect(r.status).toBe(503)
    expect(r.headers['Retry-After']).toBe('2')
    expect(r.body.NeutronError.type).toBe('HTTPServiceUnavailable')
  })
})
