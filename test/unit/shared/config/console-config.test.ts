import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { federationConfig } from '../../../../shared/config/federation.js'

describe('console proxy settings (--console-port, FEDERATION_CONSOLE_TOKEN_TTL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'console-cfg-'))
  afterEach(() => {
    delete process.env['FEDERATION_CONSOLE_TOKEN_TTL']
  })

  it.each([
    [{}, 6080],
    [{ 'console-port': '7000' }, 7000],
    [{ 'compute-port': '0' }, 0],
    [{ 'compute-port': '0', 'console-port': '7100' }, 7100],
    [{ 'compute-port': '8774' }, 6080],
  ])('%j: first proxy port %i', (flags, port) => {
    expect(federationConfig('embedded', { 'state-dir': dir, ...flags }).console.port).toBe(port)
  })

  it('tokens live 600 s by default, FEDERATION_CONSOLE_TOKEN_TTL seconds when set; a bad value stops the start', () => {
    expect(federationConfig('embedded', { 'state-dir': dir }).console.tokenTtlMs).toBe(600_000)
    process.env['FEDERATION_CONSOLE_TOKEN_TTL'] = '30'
    expect(federationConfig('embedded', { 'state-dir': dir }).console.tokenTtlMs).toBe(30_000)
    process.env['FEDERATION_CONSOLE_TOKEN_TTL'] = '-5'
    expect(() => federationConfig('embedded', { 'state-dir': dir })).toThrow(/FEDERATION_CONSOLE_TOKEN_TTL/)
    expect(() => federationConfig('embedded', { 'state-dir': dir, 'console-port': '70000' })).toThrow(/console-port/)
  })
})
