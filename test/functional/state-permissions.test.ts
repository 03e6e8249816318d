import { randomBytes } from 'node:crypto'
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { federationConfig } from '../../shared/config/federation.js'
import { removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import { bootstrapIdentity } from '../../api-cell/identity/bootstrap.js'

/**
 * Every directory and file an embedded federation keeps in its state dir is private (dirs 0700,
 * files 0600) even under a umask of 0, and what an older start left world-readable is narrowed at
 * start. Symbolic links are neither followed nor changed.
 */

/** `path -> mode` of everything under `root` (links excluded, reported apart). */
function modes(root: string): { dirs: Map<string, number>; files: Map<string, number>; links: string[] } {
  const dirs = new Map<string, number>([['.', lstatSync(root).mode & 0o7777]])
  const files = new Map<string, number>()
  const links: string[] = []
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name)
      const rel = relative(root, path)
      if (e.isSymbolicLink()) links.push(rel)
      else if (e.isDirectory()) {
        dirs.set(rel, lstatSync(path).mode & 0o7777)
        walk(path)
      } else files.set(rel, lstatSync(path).mode & 0o7777)
    }
  }
  walk(root)
  return { dirs, files, links }
}

const octal = (m: Map<string, number>): Record<string, string> => Object.fromEntries([...m].map(([k, v]) => [k, v.toString(8)]))

describe('embedded federation: state files are private whatever the umask', () => {
  let previousUmask: number
  let previousPassword: string | undefined
  let cfg: FederationConfig
  let fed: Federation
  let outside: string
  let admin: Session

  beforeAll(async () => {
    previousUmask = process.umask(0o000)
    previousPassword = process.env['ADMIN_PASSWORD']
    delete process.env['ADMIN_PASSWORD']
    // What an older start left behind, world-readable or worse.
    const stateDir = mkdtempSync(join(tmpdir(), 'fed-perm-'))
    chmodSync(stateDir, 0o755)
    writeFileSync(join(stateDir, 'admin-password'), 'older-admin-pw', { mode: 0o644 })
    writeFileSync(join(stateDir, 'token-secret'), randomBytes(32).toString('base64'), { mode: 0o666 })
    writeFileSync(join(stateDir, 'clouds.yaml'), 'stale: true\n', { mode: 0o644 })
    mkdirSync(join(stateDir, 'images'), { mode: 0o777 })
    writeFileSync(join(stateDir, 'images', 'stale-image'), 'bytes', { mode: 0o664 })
    mkdirSync(join(stateDir, 'cells'), { mode: 0o755 })
    outside = join(mkdtempSync(join(tmpdir(), 'fed-perm-outside-')), 'shared.txt')
    writeFileSync(outside, 'not ours', { mode: 0o644 })
    symlinkSync(outside, join(stateDir, 'link-to-outside'))
    cfg = federationConfig('embedded', { 'state-dir': stateDir, 'identity-port': '0', 'compute-port': '0', 'image-port': '0', driver: 'auto' })
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'older-admin-pw', 'admin')
  })

  afterAll(async () => {
    await fed?.stop()
    process.umask(previousUmask)
    if (previousPassword === undefined) delete process.env['ADMIN_PASSWORD']
    else process.env['ADMIN_PASSWORD'] = previousPassword
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('keeps the generated admin password of an older start, in a 0600 file, and uses it', () => {
    expect(fed.adminPassword).toBe('older-admin-pw')
    expect(readFileSync(join(cfg.stateDir, 'admin-password'), 'utf8')).toBe('older-admin-pw')
    expect(readFileSync(fed.cloudsYaml, 'utf8')).toContain('older-admin-pw')
    expect(admin.token).not.toBe('')
  })

  it('makes every directory 0700 and every file 0600 after an image upload and a boot', async () => {
    const image = endpoint(admin, 'image', 'region-one')
    const created = await call(admin, 'POST', `${image}/v2/images`, { name: 'perm-test', disk_format: 'raw', container_format: 'bare' })
    expect(created.status).toBe(201)
    const id = created.body.id as string
    const upload = await fetch(`${image}/v2/images/${id}/file`, {
      method: 'PUT',
      headers: { 'x-auth-token': admin.token, 'content-type': 'application/octet-stream' },
      body: randomBytes(4096),
    })
    expect(upload.status).toBe(204)

    const compute = endpoint(admin, 'compute', 'region-one')
    const server = await call(admin, 'POST', `${compute}/servers`, { server: { name: 'perm-vm', imageRef: id, flavorRef: '1' } })
    expect(server.status).toBe(202)
    await waitForStatus(admin, compute, server.body.server.id as string, 'ACTIVE')

    const { dirs, files, links } = modes(cfg.stateDir)
    // The test saw what it is about: databases and their WAL, secrets, image bytes, guest disks.
    const names = [...files.keys()]
    for (const expected of ['api.db', 'api.db-wal', 'cell0.db', 'token-secret', 'admin-password', 'clouds.yaml', `images/${id}`, 'images/stale-image']) {
      expect(names).toContain(expected)
    }
    expect(names.some((n) => /^cells\/.+\.db$/.test(n))).toBe(true)
    expect(names.some((n) => n.includes('/_base/'))).toBe(true)
    expect(names.some((n) => n.endsWith('/disk'))).toBe(true)
    expect(octal(new Map([...dirs].filter(([, m]) => m !== 0o700)))).toEqual({})
    expect(octal(new Map([...files].filter(([, m]) => m !== 0o600)))).toEqual({})
    // The link was left as it was, and so was the file it points to.
    expect(links).toEqual(['link-to-outside'])
    expect(lstatSync(outside).mode & 0o777).toBe(0o644)
  })

  it('an admin password reset by another process (cellctl bootstrap) revokes the running API\'s admin tokens', async () => {
    const projects = `${fed.api.urls.identity}/v3/projects`
    expect((await call(admin, 'GET', projects)).status).toBe(200)
    // What `cellctl bootstrap --admin-password` does: straight to the API database, no token service.
    await bootstrapIdentity(fed.api.db, { adminPassword: 'reset-by-operator' })
    // The running API process picks the revocation up on its periodic refresh.
    await waitFor('the old admin token refused', async () => ((await call(admin, 'GET', projects)).status === 401 ? true : undefined))
    const fresh = await login(fed.api.urls.identity, 'admin', 'reset-by-operator', 'admin')
    expect((await call(fresh, 'GET', projects)).status).toBe(200)
  })
})
