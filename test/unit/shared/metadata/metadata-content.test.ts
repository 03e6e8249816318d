import { describe, expect, it } from 'vitest'
import type { InstanceFacts } from '../../../../shared/metadata/instance-facts.js'
import { configDriveFiles, lookupMetadata, ROOT_LISTING } from '../../../../shared/metadata/metadata-lookup.js'
import { netmaskOf, networkDataOf } from '../../../../shared/metadata/network-data.js'
import type { NetworkInfo } from '../../../../shared/network/network-info.js'

const NETWORK_INFO: NetworkInfo = [
  {
    portId: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
    networkId: 'net-1',
    networkName: 'private',
    macAddress: 'fa:16:3e:00:00:01',
    mtu: 1450,
    bridge: 'br-net-1',
    fixedIps: [
      { subnetId: 's4', ipAddress: '10.0.0.5', version: 4, cidr: '10.0.0.0/24', gatewayIp: '10.0.0.1', dnsNameservers: ['8.8.8.8'], hostRoutes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.254' }] },
      { subnetId: 's6', ipAddress: 'fd00::5', version: 6, cidr: 'fd00::/64', gatewayIp: 'fd00::1', dnsNameservers: ['8.8.8.8', 'fd00::53'], hostRoutes: [] },
    ],
    portSecurityEnabled: true,
    securityRules: [],
  },
]

const FACTS: InstanceFacts = {
  uuid: '1b2c3d4e-0000-4000-8000-000000000001',
  name: 'vm 1',
  hostname: 'vm-1',
  projectId: 'p1',
  launchIndex: 0,
  availabilityZone: 'nova',
  reservationId: 'r-0001',
  imageId: 'abcdef01-0000-4000-8000-000000000000',
  flavorName: 'm1.tiny',
  metadata: { role: 'web' },
  keyName: 'k1',
  keyData: 'ssh-ed25519 AAAA k1',
  userData: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'),
  securityGroups: ['default'],
  networkInfo: NETWORK_INFO,
}

const text = (path: string, facts: InstanceFacts = FACTS): string | undefined => lookupMetadata({ facts, path, address: '10.0.0.5', today: '2026-12-07' })?.body.toString('utf8')
const json = (path: string, facts: InstanceFacts = FACTS): Record<string, unknown> => JSON.parse(text(path, facts) ?? 'null') as Record<string, unknown>

describe('metadata content', () => {
  it.each([
    ['/openstack', '2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2016-10-06\n2017-02-22\n2018-08-27\n2020-10-14\n2025-04-04\nlatest'],
    ['/openstack/latest', 'meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json'],
    ['/openstack/2012-08-10/', 'meta_data.json\nuser_data'],
    ['/openstack/latest/user_data', '#!/bin/sh\necho hi\n'],
    ['/openstack/latest/vendor_data.json', '{}'],
    ['/openstack/2018-08-27/vendor_data2.json', '{}'],
    ['/latest/meta-data/instance-id', 'i-1b2c3d4e'],
    ['/latest/meta-data/ami-id', 'ami-abcdef01'],
    ['/latest/meta-data/hostname', 'vm-1'],
    ['/latest/meta-data/local-hostname', 'vm-1'],
    ['/latest/meta-data/local-ipv4', '10.0.0.5'],
    ['/latest/meta-data/public-keys', '0=k1'],
    ['/latest/meta-data/public-keys/0/', 'openssh-key'],
    ['/latest/meta-data/public-keys/0/openssh-key', 'ssh-ed25519 AAAA k1'],
    ['/latest/meta-data/placement/availability-zone', 'nova'],
    ['/latest/meta-data/instance-type', 'm1.tiny'],
    ['/latest/meta-data/reservation-id', 'r-0001'],
    ['/latest/meta-data/security-groups', 'default'],
    ['/latest/meta-data/ami-launch-index', '0'],
    ['/latest/user-data', '#!/bin/sh\necho hi\n'],
    ['/ec2/2009-04-04/user-data', '#!/bin/sh\necho hi\n'],
    ['/latest', 'meta-data/\nuser-data'],
    ['/2009-04-04/meta-data/block-device-mapping/root', '/dev/vda'],
    ['/', ROOT_LISTING],
  ])('GET %s', (path, expected) => {
    expect(text(path)).toBe(expected)
  })

  it('lists the EC2 meta-data directory sorted, with subdirectories marked', () => {
    expect(text('/latest/meta-data/')?.split('\n')).toEqual([
      'ami-id', 'ami-launch-index', 'ami-manifest-path', 'block-device-mapping/', 'hostname', 'instance-action', 'instance-id', 'instance-type',
      'local-hostname', 'local-ipv4', 'placement/', 'public-hostname', 'public-ipv4', 'public-keys/', 'reservation-id', 'security-groups',
    ])
  })

  it('leaves out what an older EC2 version had not', () => {
    const listing = text('/1.0/meta-data/')?.split('\n') ?? []
    expect(listing).not.toContain('placement/')
    expect(listing).not.toContain('instance-type')
    expect(listing).toContain('instance-id')
  })

  it.each([
    ['/openstack/latest/user_data', { ...FACTS, userData: null }],
    ['/latest/user-data', { ...FACTS, userData: null }],
    ['/openstack/2012-08-10/network_data.json', FACTS],
    ['/openstack/1999-01-01/meta_data.json', FACTS],
    ['/openstack/latest/nope', FACTS],
    ['/2001-01-01/meta-data/', FACTS],
    ['/latest/meta-data/nope', FACTS],
    ['/latest/meta-data/public-keys/0/_name', FACTS],
    ['/latest/meta-data/public-keys/0', { ...FACTS, keyName: null, keyData: null }],
  ])('404 for %s', (path, facts) => {
    expect(lookupMetadata({ facts, path, address: null, today: '2026-12-07' })).toBeUndefined()
  })

  it('renders meta_data.json as Nova does, per version', () => {
    const latest = json('/openstack/latest/meta_data.json')
    expect(latest).toMatchObject({
      uuid: FACTS.uuid, name: 'vm 1', hostname: 'vm-1', launch_index: 0, availability_zone: 'nova', project_id: 'p1', meta: { role: 'web' },
      public_keys: { k1: 'ssh-ed25519 AAAA k1' }, keys: [{ name: 'k1', type: 'ssh', data: 'ssh-ed25519 AAAA k1' }], devices: [],
    })
    expect(Buffer.from(String(latest['random_seed']), 'base64')).toHaveLength(512)
    const folsom = json('/openstack/2012-08-10/meta_data.json')
    expect(Object.keys(folsom)).toEqual(['uuid', 'meta', 'public_keys', 'keys', 'hostname', 'name', 'launch_index', 'availability_zone'])
    expect(lookupMetadata({ facts: FACTS, path: '/openstack/latest/meta_data.json', address: null, today: '2026-12-07' })?.contentType).toBe('application/json')
  })

  it('hides versions dated after today from the /openstack listing', () => {
    expect(lookupMetadata({ facts: FACTS, path: '/openstack/', address: null, today: '2017-01-01' })?.body.toString()).toBe('2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2016-10-06\nlatest')
  })

  it('renders network_data.json from v4 and v6 addresses', () => {
    expect(json('/openstack/latest/network_data.json')).toEqual({
      links: [{ id: 'tapaaaaaaaa-bb', vif_id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', type: 'phy', mtu: 1450, ethernet_mac_address: 'fa:16:3e:00:00:01' }],
      networks: [
        {
          id: 'network0', type: 'ipv4', link: 'tapaaaaaaaa-bb', ip_address: '10.0.0.5', netmask: '255.255.255.0', network_id: 'net-1',
          routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.0.1' }, { network: '192.168.0.0', netmask: '255.255.0.0', gateway: '10.0.0.254' }],
          services: [{ type: 'dns', address: '8.8.8.8' }],
        },
        {
          id: 'network1', type: 'ipv6', link: 'tapaaaaaaaa-bb', ip_address: 'fd00::5', netmask: 'ffff:ffff:ffff:ffff::', network_id: 'net-1',
          routes: [{ network: '::', netmask: '::', gateway: 'fd00::1' }],
          services: [{ type: 'dns', address: '8.8.8.8' }, { type: 'dns', address: 'fd00::53' }],
        },
      ],
      services: [{ type: 'dns', address: '8.8.8.8' }, { type: 'dns', address: 'fd00::53' }],
    })
    expect(networkDataOf([])).toEqual({})
  })

  it.each([
    [4, 0, '0.0.0.0'], [4, 24, '255.255.255.0'], [4, 20, '255.255.240.0'], [4, 32, '255.255.255.255'],
    [6, 0, '::'], [6, 64, 'ffff:ffff:ffff:ffff::'], [6, 56, 'ffff:ffff:ffff:ff00::'], [6, 128, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ] as const)('netmask of IPv%i /%i is %s', (version, len, mask) => {
    expect(netmaskOf(version, len)).toBe(mask)
  })

  it('writes the same content onto a config drive', () => {
    const files = new Map(configDriveFiles(FACTS).map((f) => [f.path, f.content.toString('utf8')]))
    expect([...files.keys()].filter((p) => p.startsWith('ec2/'))).toEqual(['ec2/2009-04-04/user-data', 'ec2/2009-04-04/meta-data.json', 'ec2/latest/user-data', 'ec2/latest/meta-data.json'])
    expect(JSON.parse(files.get('ec2/latest/meta-data.json') ?? '{}')).toMatchObject({ 'instance-id': 'i-1b2c3d4e', 'public-keys': { '0': { 'openssh-key': 'ssh-ed25519 AAAA k1' } } })
    expect(files.get('ec2/latest/meta-data.json')).not.toContain('_name')
    expect(JSON.parse(files.get('openstack/latest/meta_data.json') ?? '{}')).toMatchObject({ uuid: FACTS.uuid, hostname: 'vm-1' })
    expect(files.get('openstack/latest/network_data.json')).toBe(text('/openstack/latest/network_data.json'))
    expect(files.has('openstack/2012-08-10/network_data.json')).toBe(false)
    expect(files.has('openstack/2015-10-15/network_data.json')).toBe(true)
    expect(files.get('openstack/latest/user_data')).toBe('#!/bin/sh\necho hi\n')
    expect(files.has('openstack/latest/password')).toBe(false)
    const none = configDriveFiles({ ...FACTS, userData: null }).map((f) => f.path)
    expect(none.some((p) => p.endsWith('user_data') || p.endsWith('user-data'))).toBe(false)
  })
})
