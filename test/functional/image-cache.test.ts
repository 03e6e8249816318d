import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import { FileUrlSigner, fileUrlKey } from '../../api-cell/image/file-url-signer.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')
const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex')

/**
 * Issue 3: compute hosts fetch an image once into `_base/<sha1 of the image id>` through a signed,
 * expiring URL of the image API, and create each instance disk on top of it (a qcow2 overlay).
 */
describe('image cache: compute hosts fetch images through signed URLs and boot from overlays', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let r2: string
  let imageApi: string
  let signer: FileUrlSigner
  const bytes = randomBytes(300_000)
  let imageId: string

  /** The instances directory of a region-two host (see child-cell/runtime.ts). */
  const instancesOf = (host: string): string => join(cfg.stateDir, 'cells', 'api.region-two', 'hosts', host, 'instances')
  const qemuInfo = (path: string): Record<string, unknown> =>
    JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path], { encoding: 'utf8' })) as Record<string, unknown>

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    r2 = endpoint(admin, 'compute', 'region-two')
    imageApi = endpoint(admin, 'image', 'region-two')
    // The API cell's key, as a test may derive it: from the token secret in the state directory.
    const secret = Buffer.from(readFileSync(join(cfg.stateDir, 'token-secret'), 'utf8').trim(), 'base64')
    signer = new FileUrlSigner({ key: fileUrlKey(secret), publicUrl: fed.api.urls.image })
    const created = await call(admin, 'POST', `${imageApi}/v2/images`, { name: 'cache-test', disk_format: 'raw', container_format: 'bare', visibility: 'private' })
    expect(created.status).toBe(201)
    imageId = created.body.id as string
    const put = await fetch(`${imageApi}/v2/images/${imageId}/file`, {
      method: 'PUT',
      headers: { 'x-auth-token': admin.token, 'content-type': 'application/octet-stream' },
      body: bytes,
    })
    expect(put.status).toBe(204)
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('serves the file to a valid signed URL without a token', async () => {
    const res = await fetch(signer.signedFileUrl(imageId, Date.now() + 60_000))
    expect(res.status).toBe(200)
    expect(md5(Buffer.from(await res.arrayBuffer()))).toBe(md5(bytes))
  })

  it('answers 403 to a bad, expired or foreign signature, and 401 without any signature or token', async () => {
    const good = new URL(signer.signedFileUrl(imageId, Date.now() + 60_000))
    const tampered = new URL(good)
    const sig = good.searchParams.get('signature') ?? ''
    tampered.searchParams.set('signature', `${sig[0] === '0' ? '1' : '0'}${sig.slice(1)}`)
    expect((await fetch(tampered)).status).toBe(403)
    const longer = new URL(good)
    longer.searchParams.set('expires', String(Number(good.searchParams.get('expires')) + 3600))
    expect((await fetch(longer)).status).toBe(403)
    expect((await fetch(signer.signedFileUrl(imageId, Date.now() - 1000))).status).toBe(403)
    // A signature of another image does not open this one.
    const cirros = (await call(admin, 'GET', `${imageApi}/v2/images?name=cirros`)).body.images[0].id as string
    const foreign = new URL(signer.signedFileUrl(cirros, Date.now() + 60_000))
    foreign.pathname = `/v2/images/${imageId}/file`
    expect((await fetch(foreign)).status).toBe(403)
    // A key other than the API cell's.
    const other = new FileUrlSigner({ key: randomBytes(32), publicUrl: fed.api.urls.image })
    expect((await fetch(other.signedFileUrl(imageId, Date.now() + 60_000))).status).toBe(403)
    const bare = await fetch(`${fed.api.urls.image}/v2/images/${imageId}/file`)
    expect(bare.status).toBe(401)
    const expiresOnly = await fetch(`${fed.api.urls.image}/v2/images/${imageId}/file?expires=${good.searchParams.get('expires') ?? ''}`)
    expect(expiresOnly.status).toBe(401)
    // Normal token auth is unchanged.
    const withToken = await call(admin, 'GET', `${imageApi}/v2/images/${imageId}/file`)
    expect(withToken.status).toBe(200)
  })

  it('fetches the image once into _base/<sha1> and boots two servers from overlays on it, then cleans up on delete', async () => {
    // Affinity keeps both servers on one host: both disks must share the one cached image.
    const group = await call(admin, 'POST', `${r2}/os-server-groups`, { server_group: { name: 'cache-affinity', policies: ['affinity'] } })
    expect(group.status).toBe(200)
    const ids: string[] = []
    for (const name of ['cache-a', 'cache-b']) {
      const res = await call(admin, 'POST', `${r2}/servers`, { server: { name, imageRef: imageId, flavorRef: '1' }, 'os:scheduler_hints': { group: group.body.server_group.id } })
      expect(res.status).toBe(202)
      ids.push(res.body.server.id as string)
    }
    const shown = await Promise.all(ids.map((id) => waitForStatus(admin, r2, id, 'ACTIVE')))
    const hosts = new Set(shown.map((s) => s['OS-EXT-SRV-ATTR:host'] as string))
    expect(hosts.size).toBe(1)
    const host = [...hosts][0]!
    const instances = instancesOf(host)
    const base = join(instances, '_base', sha1(imageId))
    expect(md5(readFileSync(base))).toBe(md5(bytes))
    expect(readdirSync(join(instances, '_base')).filter((f) => f.includes(sha1(imageId)))).toEqual([sha1(imageId)])
    for (const id of ids) {
      const info = qemuInfo(join(instances, id, 'disk'))
      expect(info['format']).toBe('qcow2')
      expect(info['backing-filename']).toBe(base)
      expect(info['backing-filename-format']).toBe('raw')
      // m1.tiny: a 1 GB root disk.
      expect(info['virtual-size']).toBe(1024 ** 3)
    }
    const info = await fed.driverOf(host)?.getInfo(ids[0]!)
    expect(info?.powerState).toBe(1)

    expect((await call(admin, 'DELETE', `${r2}/servers/${ids[0]!}`)).status).toBe(204)
    await waitFor('instance dir removed', async () => (existsSync(join(instances, ids[0]!)) ? undefined : true))
    // The cached image stays for the next guest, and so does the other server's disk.
    expect(existsSync(base)).toBe(true)
    expect(existsSync(join(instances, ids[1]!, 'disk'))).toBe(true)

    // Rebuild recreates the disk from the new image.
    const cirros = (await call(admin, 'GET', `${imageApi}/v2/images?name=cirros`)).body.images[0].id as string
    const rebuilt = await call(admin, 'POST', `${r2}/servers/${ids[1]!}/action`, { rebuild: { imageRef: cirros } })
    expect(rebuilt.status).toBe(202)
    await waitFor('rebuilt on cirros', async () => {
      const s = await call(admin, 'GET', `${r2}/servers/${ids[1]!}`)
      if (s.body.server.status !== 'ACTIVE' || s.body.server.image.id !== cirros) return undefined
      const disk = join(instances, ids[1]!, 'disk')
      return existsSync(disk) && qemuInfo(disk)['backing-filename'] === join(instances, '_base', sha1(cirros)) ? true : undefined
    })
    expect(existsSync(join(instances, '_base', sha1(cirros)))).toBe(true)

    expect((await call(admin, 'DELETE', `${r2}/servers/${ids[1]!}`)).status).toBe(204)
    await waitFor('second instance dir removed', async () => (existsSync(join(instances, ids[1]!)) ? undefined : true))
    expect(existsSync(base)).toBe(true)
  })
})
