import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { childFlags, processPlan } from '../../../bin/production.js'
import { ServiceCredentials } from '../../../bin/production-credentials.js'
import { missingSetup, parseOnly, setupModeOf } from '../../../bin/production-sites.js'
import { cellEndpoints, federationConfig } from '../../../shared/config/federation.js'
import { allCells, parseRegion } from '../../../shared/config/regions.js'
import { ensureFederationPki } from '../../../shared/pki/federation-ca.js'

describe('production mode site by site (--only, --setup, grpc_listen / grpc_address)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prod-sites-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const cfg = federationConfig('production', { 'state-dir': join(dir, 'state'), 'name-prefix': 'fedsites' })
  const namesOf = (only: string | undefined): string[] => processPlan(cfg, [], undefined, parseOnly(cfg, only)).map((p) => p.name)

  it('--only a region runs that region with its whole subtree, and no API', () => {
    const names = namesOf('api!region-one')
    expect(names).toContain('agent@api!region-one')
    expect(names).toContain('conductor@api!region-one!dc1')
    expect(names).toContain('compute@api!region-one!dc2')
    expect(names.some((n) => n.includes('region-two'))).toBe(false)
    expect(names).not.toContain('api')
  })

  it('--only api runs the API process alone; several paths add up; no --only runs everything', () => {
    expect(namesOf('api')).toEqual(['api'])
    const two = namesOf('api,api!region-two')
    expect(two).toContain('api')
    expect(two).toContain('agent@api!region-two')
    expect(two.some((n) => n.includes('region-one'))).toBe(false)
    expect(namesOf(undefined)).toEqual(processPlan(cfg, []).map((p) => p.name))
    expect(namesOf(undefined).length).toBeGreaterThan(namesOf('api,api!region-two').length)
  })

  it('--only and --setup refuse what they do not know, naming what they know', () => {
    expect(() => parseOnly(cfg, 'api!region-3')).toThrow(/no cell api!region-3.*known: api, api!region-one/)
    expect(() => parseOnly(cfg, 'region-two')).toThrow(/no cell region-two/)
    expect(() => parseOnly(cfg, ',')).toThrow(/at least one/)
    expect(setupModeOf(undefined)).toBe('auto')
    expect(setupModeOf('skip')).toBe('skip')
    expect(() => setupModeOf('later')).toThrow(/auto, only, skip/)
  })

  it('the supervisor keeps --only and --setup to itself', () => {
    expect(childFlags(['--only', 'api!region-two', '--setup=skip', '--host', '10.0.0.2'])).toEqual(['--host', '10.0.0.2'])
  })

  it('grpc_listen binds, grpc_address is dialled; both default to --host and the cell port', () => {
    const plain = allCells(cfg.regions).find((c) => c.path === 'api!region-two')
    if (plain === undefined) throw new Error('deploy/regions has no api!region-two')
    const ep = cellEndpoints(cfg, plain)
    expect(ep.grpcListen).toBe(ep.grpcAddress)
    expect(ep.grpcListen.startsWith('127.0.0.1:')).toBe(true)
    const both = parseRegion('name: r\ngrpc_listen: 0.0.0.0:18201\ngrpc_address: "10.1.2.3:18201"\n', 'r.yaml')
    expect(cellEndpoints(cfg, both)).toMatchObject({ grpcListen: '0.0.0.0:18201', grpcAddress: '10.1.2.3:18201' })
    // A wildcard bind is not an address a parent can dial: --host with its port is.
    const wildcard = parseRegion('name: r\ngrpc_listen: "[::]:18202"\n', 'r.yaml')
    expect(cellEndpoints(cfg, wildcard)).toMatchObject({ grpcListen: '[::]:18202', grpcAddress: '127.0.0.1:18202' })
    const named = parseRegion('name: r\ngrpc_listen: 10.9.0.2:18203\n', 'r.yaml')
    expect(cellEndpoints(cfg, named).grpcAddress).toBe('10.9.0.2:18203')
    expect(() => parseRegion('name: r\ngrpc_address: 10.1.2.3\n', 'r.yaml')).toThrow(/grpc_address: must be host:port/)
    expect(() => parseRegion('name: r\ngrpc_listen: "10.1.2.3:70000"\n', 'r.yaml')).toThrow(/at most 65535/)
  })

  it('--setup skip: says what the set-up left out, and never invents a password the servers do not know', async () => {
    const sel = parseOnly(cfg, 'api!region-two')
    expect(missingSetup(cfg.pki.dir, sel)[0]).toMatch(/no federation CA certificate/)
    await ensureFederationPki(cfg.pki.dir, ['api'])
    expect(missingSetup(cfg.pki.dir, sel)).toEqual(['certificate of api!region-two: missing'])
    await ensureFederationPki(cfg.pki.dir, ['api!region-two'])
    expect(missingSetup(cfg.pki.dir, sel)).toEqual([])
    expect(() => ServiceCredentials.load(cfg, true)).toThrow(/run the set-up first/)
    mkdirSync(cfg.stateDir, { recursive: true })
    writeFileSync(join(cfg.stateDir, 'service-credentials.json'), '{}\n', { mode: 0o600 })
    const creds = ServiceCredentials.load(cfg, true)
    expect(() => creds.envFor({ role: 'api' })).toThrow(/no password for db:fedsites_api/)
  })
})
