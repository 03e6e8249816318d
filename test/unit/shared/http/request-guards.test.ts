import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clientErrorStatus } from '../../../../shared/http/client-errors.js'
import { malformedUrl, MAX_BODY_DEPTH, nestingDepth, ownValue } from '../../../../shared/http/request-guards.js'

describe('malformedUrl', () => {
  it.each(['/servers/%ff', '/servers/%zz', '/a%', '/a%2', '/x?name=%ff', '/x?%e0=1', '/x/%ed%a0%80', '/x/%c0%af'])('flags %s', (url) => {
    expect(malformedUrl(url)).toMatch(/percent-encoding/)
  })

  it.each(['/servers', '/servers/abc%20def', '/x?name=(a%2B)%2B%24', '/x/%e2%82%ac', '/x?a=b+c', '/x/%00'])('accepts %s', (url) => {
    expect(malformedUrl(url)).toBeUndefined()
  })

  it('accepts every URL that encodeURIComponent produces', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => malformedUrl(`/x/${encodeURIComponent(s)}?q=${encodeURIComponent(s)}`) === undefined),
      { seed: 1, numRuns: 200 },
    )
  })
})

describe('nestingDepth', () => {
  it.each([
    [1, 0],
    [{}, 1],
    [[[]], 2],
    [{ a: [{ b: 1 }] }, 3],
  ])('of %j is %i', (v, depth) => {
    expect(nestingDepth(v)).toBe(depth)
  })

  it('stops past the limit without walking (or overflowing on) a very deep value', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown
    expect(nestingDepth(deep)).toBe(MAX_BODY_DEPTH + 1)
  })
})

describe('ownValue', () => {
  const table: Readonly<Record<string, string>> = { created_at: 'created_at', uuid: 'uuid' }

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'missing'])('finds nothing for %s', (key) => {
    expect(ownValue(table, key)).toBeUndefined()
  })

  it('finds own keys', () => {
    expect(ownValue(table, 'uuid')).toBe('uuid')
  })
})

describe('clientErrorStatus', () => {
  it.each([
    ['HPE_HEADER_OVERFLOW', 431],
    ['HPE_INVALID_CHUNK_SIZE', 400],
    ['HPE_INVALID_METHOD', 400],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408],
    [undefined, 400],
  ])('maps %s to %i', (code, status) => {
    expect(clientErrorStatus(code).status).toBe(status)
  })
})
