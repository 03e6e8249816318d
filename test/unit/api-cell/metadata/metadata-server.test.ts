import { afterEach, describe, expect, it } from 'vitest'
import type { MetadataFacts, ServedInstance } from '../../../../api-cell/metadata/metadata-facts.js'
import type { MetadataServer } from '../../../../api-cell/metadata/metadata-server.js'
import { instanceIdSignature, startMetadataServer } from '../../../../api-cell/metadata/metadata-server.js'
import { startRegionMetadataServers } from '../../../../api-cell/metadata/region-listeners.js'
import type { InstanceLocator } from '../../../../api-cell/compute/servers/locator.js'
import { federationConfig } from '../../../../shared/config/federation.js'
import { createLogger } from '../../../../shared/logging.js'

const UUID = '11111111-2222-4333-8444-555555555555'
const served: ServedInstance = {
  region: 'r1',
  facts: {
    uuid: UUID, name: 'vm', hostname: 'vm', projectId: 'p1', launchIndex: 0, availabilityZone: 'nova', reservationId: 'r-1', imageId: 'img',
    flavorName: 'm1.tiny', metadata: {}, keyName: null, keyData: null, userData: null, securityGroups: [], networkInfo: [],
  },
}
const facts = { of: (uuid: string) => Promise.resolve(uuid === UUID ? served : undefined) } as unknown as MetadataFacts
const log = createLogger('test')

describe('metadata listener', () => {
  let server: MetadataServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  const start = async (proxySecret?: string): Promise<string> => {
    server = await startMetadataServer({
      region: 'r1', host: '127.0.0.1', port: 0, facts, log,
      addresses: { instanceByAddress: ({ ipAddress, region }) => Promise.resolve(ipAddress === '127.0.0.1' && region === 'r1' ? { instanceUuid: UUID, projectId: 'p1' } : undefined) },
      ...(proxySecret === undefined ? {} : { proxySecret }),
    })
    return `http://127.0.0.1:${server.port}`
  }
  const signed = (secret: string) => ({ 'X-Instance-ID': UUID, 'X-Tenant-ID': 'p1', 'X-Instance-ID-Signature': instanceIdSignature(secret, UUID) })

  it('refuses forwarded requests when no proxy secret is configured, whatever they are signed with', async () => {
    const base = await start()
    const res = await fetch(`${base}/openstack/latest/meta_data.json`, { headers: signed('') })
    expect(res.status).toBe(403)
    expect(await res.text()).not.toContain(UUID)
    // The same caller by its address is served.
    expect((await fetch(`${base}/openstack/latest/meta_data.json`)).status).toBe(200)
  })

  it.each([
    ['the right signature', signed('s3cret'), 200],
    ['a wrong signature', signed('other'), 403],
    ['no signature', { 'X-Instance-ID': UUID, 'X-Tenant-ID': 'p1' }, 400],
    ['a signature of the wrong length', { ...signed('s3cret'), 'X-Instance-ID-Signature': 'abc' }, 403],
  ])('with a proxy secret: %s -> %i', async (_what, headers, status) => {
    const base = await start('s3cret')
    expect((await fetch(`${base}/openstack/latest/meta_data.json`, { headers })).status).toBe(status)
  })

  it.each([
    ['//openstack/latest/meta_data.json', 200],
    ['/openstack/latest/../latest/meta_data.json?x=1', 200],
    ['/openstack/%6Catest/meta_data.json', 200],
    ['/openstack/latest/%zz', 400],
  ])('path %s -> %i', async (path, status) => {
    const base = await start()
    const res = await fetch(`${base}${path}`)
    expect(res.status).toBe(status)
    if (status === 200) expect(JSON.parse(await res.text())).toMatchObject({ uuid: UUID })
  })

  it('is read-only', async () => {
    const base = await start()
    const res = await fetch(`${base}/openstack/latest/meta_data.json`, { method: 'POST', body: 'x' })
    expect(res.status).toBe(405)
  })

  it('lays the regions out on consecutive ports from --metadata-port', async () => {
    const probe = await startMetadataServer({ region: 'x', host: '127.0.0.1', port: 0, facts, log, addresses: { instanceByAddress: () => Promise.resolve(undefined) } })
    const port = probe.port
    await probe.close()
    const servers = await startRegionMetadataServers({
      db: undefined as never, locator: undefined as unknown as InstanceLocator, host: '127.0.0.1', publicHost: 'example.test', regions: ['r1', 'r2'], port,
      addresses: { instanceByAddress: () => Promise.resolve(undefined) }, log,
    })
    try {
      expect(servers.urls).toEqual({ r1: `http://example.test:${port}`, r2: `http://example.test:${port + 1}` })
    } finally {
      await servers.close()
    }
  })

  it('takes its port and secret from the federation config', () => {
    process.env['FEDERATION_METADATA_PROXY_SECRET'] = 'abc'
    try {
      expect(federationConfig('embedded', { 'metadata-port': '9775' }).metadata).toEqual({ port: 9775, proxySecret: 'abc' })
    } finally {
      delete process.env['FEDERATION_METADATA_PROXY_SECRET']
    }
    expect(federationConfig('embedded', {}).metadata).toEqual({ port: 8775 })
    expect(federationConfig('embedded', { 'compute-port': '0' }).metadata.port).toBe(0)
    expect(() => federationConfig('embedded', { 'metadata-port': 'x' })).toThrow(/--metadata-port/)
  })
})
