import { describe, expect, it } from 'vitest'
import { cellIdOf, cellPathOfSan, isCellPath, parentPathOf } from '../../../../shared/pki/cell-identity.js'
import { checkCaller } from '../../../../shared/cell-link/rpc-access.js'

describe('cell identity in certificates', () => {
  it.each([
    ['api', 'spiffe://cells-federation/cell/api'],
    ['api!region-one', 'spiffe://cells-federation/cell/api/region-one'],
    ['api!region-one!dc1', 'spiffe://cells-federation/cell/api/region-one/dc1'],
  ])('names %s as %s and reads it back', (path, uri) => {
    expect(cellIdOf(path)).toBe(uri)
    expect(cellPathOfSan(`URI:${uri}`)).toBe(path)
  })

  it.each(['', 'region-one', 'api!', 'api!!dc1', 'api!Region', 'api!dc_1', 'api!-x', 'api/region', 'cell0', 'api!a b'])('refuses the malformed path %j', (path) => {
    expect(isCellPath(path)).toBe(false)
    expect(() => cellIdOf(path)).toThrow(/not a cell path/)
  })

  it.each([
    ['no SAN', undefined],
    ['a DNS name only', 'DNS:api'],
    ['another trust domain', 'URI:spiffe://elsewhere/cell/api'],
    ['a path with upper case', 'URI:spiffe://cells-federation/cell/api/Region'],
    ['a path that is not under api', 'URI:spiffe://cells-federation/cell/region-one'],
    ['an empty segment', 'URI:spiffe://cells-federation/cell/api//dc1'],
    ['two cell identities', 'URI:spiffe://cells-federation/cell/api, URI:spiffe://cells-federation/cell/api/region-one'],
    ['a quoted entry', 'URI:"spiffe://cells-federation/cell/api, x"'],
  ])('names no cell with %s', (_what, san) => {
    expect(cellPathOfSan(san)).toBeUndefined()
  })

  it('reads the cell URI among other names', () => {
    expect(cellPathOfSan('DNS:dc1.example, URI:spiffe://cells-federation/cell/api/r1, IP Address:127.0.0.1')).toBe('api!r1')
  })

  it.each([
    ['api!r1!dc1', 'api!r1'],
    ['api!r1', 'api'],
    ['api', undefined],
  ])('the parent of %s is %s', (path, parent) => {
    expect(parentPathOf(path)).toBe(parent)
  })
})

describe('who may call a cell (rpc-access.ts)', () => {
  it.each([
    // [rpc, serving cell, caller, allowed]
    ['Build', 'api!r1', 'api', true],
    ['Build', 'api!r1!dc1', 'api!r1', true],
    ['Build', 'api!r1!dc1', 'api', false],
    ['Watch', 'api!r1!dc1', 'api!r1!dc2', false],
    ['AckEvents', 'api!r1', 'api!r1!dc1', false],
    ['CellAdmin', 'api!r1', 'api!r1', false],
    ['CellAdmin', 'api!r1', 'api!r10', false],
    ['InstanceAction', 'api!r1!dc1', 'api!r1!dc1!x', false],
    ['GetInstances', 'api', 'api', false],
    ['Frobnicate', 'api!r1', 'api', false],
  ] as const)('%s on %s from %s: allowed=%s', (rpc, self, caller, allowed) => {
    expect(checkCaller(rpc, self, caller).allowed).toBe(allowed)
  })

  it('refuses a caller without a cell identity as unauthenticated', () => {
    expect(checkCaller('Build', 'api!r1', undefined)).toMatchObject({ allowed: false, status: 'unauthenticated' })
  })
})
