import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { requireServiceUrls, serverUrl, withCredentials, withoutCredentials } from '../../../../shared/config/credentials.js'

describe('server URLs and their credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'creds-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('refuses a password on the command line, without echoing it', () => {
    const err = (() => {
      try {
        serverUrl('database', 'mysql://root:hunter2@db:3306', {})
      } catch (e) {
        return e as Error
      }
      return undefined
    })()
    expect(err?.message).toMatch(/must not carry a password.*FEDERATION_DATABASE_URL/)
    expect(err?.message).not.toContain('hunter2')
    expect(() => serverUrl('transport', 'amqp://u:p@broker:5672', {})).toThrow(/FEDERATION_TRANSPORT_URL/)
  })

  it('takes a flag without password, else the environment, else a private file, else the local default', () => {
    expect(serverUrl('database', 'mysql://db:3306/', {})).toEqual({ url: 'mysql://db:3306', source: 'flag' })
    expect(serverUrl('database', undefined, { FEDERATION_DATABASE_URL: 'mysql://a:b@db:3306' })).toEqual({ url: 'mysql://a:b@db:3306', source: 'env' })
    const file = join(dir, 'db-url')
    writeFileSync(file, 'mysql://admin:s3cret@db:3306\n', { mode: 0o600 })
    expect(serverUrl('database', undefined, { FEDERATION_DATABASE_URL_FILE: file })).toEqual({ url: 'mysql://admin:s3cret@db:3306', source: 'file' })
    expect(serverUrl('database', undefined, {})).toEqual({ url: 'mysql://root@127.0.0.1:3306', source: 'local-default' })
  })

  it('refuses a credentials file others can read', () => {
    const file = join(dir, 'open-url')
    writeFileSync(file, 'amqp://u:p@b:5672')
    chmodSync(file, 0o644)
    expect(() => serverUrl('transport', undefined, { FEDERATION_TRANSPORT_URL_FILE: file })).toThrow(/chmod 600/)
  })

  it('keeps production services off the local defaults', () => {
    expect(() => requireServiceUrls({ database: 'local-default', transport: 'env' }, ['transport'])).not.toThrow()
    expect(() => requireServiceUrls({ database: 'local-default', transport: 'env' }, ['database', 'transport'])).toThrow(/no database credentials/)
  })

  it('adds and strips credentials', () => {
    expect(withoutCredentials('mysql://root:pw@db:3306/schema')).toBe('mysql://db:3306/schema')
    expect(withCredentials('amqp://127.0.0.1:5672', 'v.x/compute/h1+h2', 'p@ss/')).toBe('amqp://v.x%2Fcompute%2Fh1%2Bh2:p%40ss%2F@127.0.0.1:5672')
    expect(decodeURIComponent(new URL(withCredentials('amqp://h:1', 'a/b', 'c')).username)).toBe('a/b')
  })
})
