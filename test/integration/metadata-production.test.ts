import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { instanceIdSignature } from '../../api-cell/metadata/metadata-server.js'
import type { ProductionFederation } from '../helpers/production.js'
import { startProduction } from '../helpers/production.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'

const SECRET = 'wtn4-production-proxy-secret'
const USER_DATA = '#cloud-config\nruncmd: [echo production]\n'

/** Every `disk.config` under `dir`. */
function configDrives(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return configDrives(path)
    return e.name === 'disk.config' ? [path] : []
  })
}

/**
 * Production mode (MariaDB, RabbitMQ, one process per service): the config drive's files cross the
 * leaf's bus from the conductor to the compute process, which writes the ISO; the API process's
 * metadata API reads the instance from its leaf over gRPC and the key pair from MariaDB.
 */
describe('production federation: config drive and metadata API', () => {
  let fed: ProductionFederation
  let admin: Session
  let nova: string
  let id: string
  let publicKey: string

  beforeAll(async () => {
    process.env['FEDERATION_METADATA_PROXY_SECRET'] = SECRET
    try {
      fed = await startProduction({ namePrefix: 'wtn4' })
    } finally {
      delete process.env['FEDERATION_METADATA_PROXY_SECRET']
    }
    admin = await login(fed.identityUrl, 'admin', 'secret-admin-pw', 'admin')
    nova = endpoint(admin, 'compute', 'region-one')
    const image = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id as string
    const key = await call(admin, 'POST', `${nova}/os-keypairs`, { keypair: { name: 'wtn4-key' } })
    expect(key.status).toBe(200)
    publicKey = key.body.keypair.public_key as string
    const res = await call(admin, 'POST', `${nova}/servers`, {
      server: { name: 'wtn4-drive', imageRef: image, flavorRef: '1', key_name: 'wtn4-key', config_drive: true, user_data: Buffer.from(USER_DATA).toString('base64') },
    })
    expect(res.status).toBe(202)
    id = res.body.server.id as string
    await waitForStatus(admin, nova, id, 'ACTIVE', 90_000)
  }, 240_000)

  afterAll(async () => {
    await fed?.stop()
  }, 60_000)

  it('the server shows config_drive "True" and its host holds the ISO with its metadata', async () => {
    expect((await call(admin, 'GET', `${nova}/servers/${id}`)).body.server.config_drive).toBe('True')
      const [iso] = configDrives(fed.stateDir).filter((p) => p.includes(id))
      expect(iso).toBeDefined()
      expect(execFileSync('xorriso', ['-indev', iso as string, '-pvd_info'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toMatch(/Volume Id\s*:\s*config-2/)
      const out = join(fed.stateDir, 'wtn4-meta_data.json')
      execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso as string, '-extract', '/openstack/latest/meta_data.json', out], { stdio: 'ignore' })
      expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ uuid: id, name: 'wtn4-drive', public_keys: { 'wtn4-key': publicKey } })
  })

  it('the metadata API serves it to a signed proxy request, in its region only', async () => {
    const headers = { 'X-Instance-ID': id, 'X-Instance-ID-Signature': instanceIdSignature(SECRET, id), 'X-Tenant-ID': admin.projectId }
    const md = await fetch(`${fed.metadataUrl}/openstack/latest/meta_data.json`, { headers })
    expect(md.status).toBe(200)
    expect(await md.json()).toMatchObject({ uuid: id, public_keys: { 'wtn4-key': publicKey } })
    const ud = await fetch(`${fed.metadataUrl}/openstack/latest/user_data`, { headers })
    expect(await ud.text()).toBe(USER_DATA)
    const port = Number(new URL(fed.metadataUrl).port)
    expect((await fetch(`http://127.0.0.1:${port + 1}/openstack/latest/meta_data.json`, { headers })).status).toBe(404)
    expect((await fetch(`${fed.metadataUrl}/openstack/latest/meta_data.json`, { headers: { ...headers, 'X-Instance-ID-Signature': 'bad' } })).status).toBe(403)
    // No network service yet: no address is an instance's.
    expect((await fetch(`${fed.metadataUrl}/openstack/latest/meta_data.json`)).status).toBe(404)
  })
})
