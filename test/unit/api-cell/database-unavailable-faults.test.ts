import express from 'express'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { computeErrorHandler } from '../../../api-cell/compute/faults.js'
import { keystoneErrorHandler, toHttpFailure } from '../../../api-cell/identity/http-errors.js'
import { glanceErrorHandler } from '../../../api-cell/image/http-errors.js'
import { DatabaseUnavailableError } from '../../../shared/errors.js'
import { createLogger } from '../../../shared/logging.js'

/** What reaches an error handler when the database is away: our 503 error, or a raw driver error. */
const THROWN: ReadonlyArray<readonly [string, unknown]> = [
  ['DatabaseUnavailableError', new DatabaseUnavailableError()],
  ['closed connection', Object.assign(new Error("Can't add new command when connection is in closed state"), { fatal: true })],
  ['connection lost', Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true })],
  ['refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED', fatal: true })],
  ['deadlock', Object.assign(new Error('Deadlock found'), { code: 'ER_LOCK_DEADLOCK', errno: 1213 })],
]

describe('API fault shapes when the database is away', () => {
  let base = ''
  let server: ReturnType<ReturnType<typeof express>['listen']>
  beforeAll(async () => {
    const app = express()
    const log = createLogger('test')
    for (const [api, handler] of [
      ['compute', computeErrorHandler(log)],
      ['identity', keystoneErrorHandler()],
      ['image', glanceErrorHandler()],
    ] as const) {
      const r = express.Router()
      r.get('/:case', (req, _res, next) => next(THROWN[Number(req.params['case'])]?.[1]))
      r.use(handler)
      app.use(`/${api}`, r)
    }
    server = app.listen(0, '127.0.0.1')
    await new Promise<void>((r) => server.once('listening', () => r()))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  it.each(THROWN.map(([name], i) => [name, i] as const))('%s: 503 with Retry-After in the compute, identity and image shapes', async (_name, i) => {
    const compute = await fetch(`${base}/compute/${i}`)
    expect(compute.status).toBe(503)
    expect(compute.headers.get('retry-after')).toBe('2')
    expect(((await compute.json()) as any).serviceUnavailable).toMatchObject({ code: 503 })
    for (const api of ['identity', 'image']) {
      const r = await fetch(`${base}/${api}/${i}`)
      expect(r.status).toBe(503)
      expect(r.headers.get('retry-after')).toBe('2')
      expect(((await r.json()) as any).error).toMatchObject({ code: 503, title: 'Service Unavailable' })
    }
  })

  it('keeps a bug in a query a 500 without detail', () => {
    const f = toHttpFailure(Object.assign(new Error('You have an error in your SQL syntax'), { code: 'ER_PARSE_ERROR', errno: 1064 }))
    expect(f.status).toBe(500)
    expect(f.message).not.toContain('SQL')
    expect(f.retryAfter).toBeUndefined()
  })
})
