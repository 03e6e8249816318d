import { execFile } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'

/**
 * The real, unmodified python-openstackclient against the network service of an embedded
 * federation, configured only through the clouds.yaml the federation writes (no `has_network:
 * false` any more: the catalog has a `network` endpoint per region).
 */
describe('the real openstack CLI: networks', () => {
  let cfg: FederationConfig
  let fed: Federation

  const os = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')))
      Object.assign(env, { OS_CLIENT_CONFIG_FILE: fed.cloudsYaml, OS_CLOUD: 'federation', PYTHONWARNINGS: 'ignore' })
      execFile('openstack', args, { env, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`openstack ${args.join(' ')}: ${stderr}`))
        else resolve(stdout)
      })
    })
  const osJson = async (...args: string[]): Promise<any> => JSON.parse(await os(...args, '-f', 'json'))

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('lists the region networks and the extensions', async () => {
    const nets = await osJson('network', 'list')
    expect(nets.map((n: any) => n.Name)).toEqual(expect.arrayContaining(['region-one-net', 'region-two-net']))
    const ext = await osJson('extension', 'list', '--network')
    expect(ext.map((e: any) => e.Alias)).toEqual(expect.arrayContaining(['binding', 'provider', 'external-net']))
  })

  it('creates a network, a subnet and a port, boots on the network and shows the address', async () => {
    const net = await osJson('--os-region-name', 'region-one', 'network', 'create', 'cli-net')
    expect(net).toMatchObject({ name: 'cli-net', status: 'ACTIVE', mtu: 1450 })
    const subnet = await osJson('subnet', 'create', '--network', 'cli-net', '--subnet-range', '192.168.50.0/24', '--dns-nameserver', '192.168.50.2', 'cli-subnet')
    expect(subnet).toMatchObject({ cidr: '192.168.50.0/24', gateway_ip: '192.168.50.1', ip_version: 4 })
    const port = await osJson('port', 'create', '--network', 'cli-net', '--fixed-ip', 'subnet=cli-subnet,ip-address=192.168.50.77', 'cli-port')
    expect(port.fixed_ips).toEqual([{ subnet_id: subnet.id, ip_address: '192.168.50.77' }])
    await os('--os-region-name', 'region-one', 'server', 'create', '--image', 'cirros', '--flavor', 'm1.tiny', '--network', 'cli-net', '--wait', 'cli-vm1')
    await os('--os-region-name', 'region-one', 'server', 'create', '--image', 'cirros', '--flavor', 'm1.tiny', '--port', 'cli-port', '--wait', 'cli-vm2')
    const vm1 = await osJson('--os-region-name', 'region-one', 'server', 'show', 'cli-vm1')
    expect(JSON.stringify(vm1.addresses)).toMatch(/cli-net.*192\.168\.50\./)
    const vm2 = await osJson('--os-region-name', 'region-one', 'server', 'show', 'cli-vm2')
    expect(JSON.stringify(vm2.addresses)).toContain('192.168.50.77')
    const ports = await osJson('port', 'list', '--server', 'cli-vm2')
    expect(ports).toHaveLength(1)
    expect(ports[0]).toMatchObject({ ID: port.id, 'MAC Address': port.mac_address })
    const zones = await osJson('availability', 'zone', 'list')
    expect(zones.length).toBeGreaterThan(0)
  }, 180_000)

  it('security groups with a rule, a boot in the group, and a floating IP on an external network', async () => {
    const sg = await osJson('security', 'group', 'create', 'cli-web')
    expect(sg.name).toBe('cli-web')
    const rule = await osJson('security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '22', '--ingress', 'cli-web')
    expect(rule).toMatchObject({ protocol: 'tcp', port_range_min: 22, port_range_max: 22, direction: 'ingress' })
    await os('--os-region-name', 'region-one', 'server', 'create', '--image', 'cirros', '--flavor', 'm1.tiny', '--network', 'cli-net', '--security-group', 'cli-web', '--wait', 'cli-vm3')
    const vm3 = await osJson('--os-region-name', 'region-one', 'server', 'show', 'cli-vm3')
    expect(JSON.stringify(vm3.security_groups)).toContain('cli-web')
    const ports = await osJson('port', 'list', '--server', 'cli-vm3')
    expect(ports).toHaveLength(1)
    expect((await osJson('port', 'show', ports[0].ID)).security_group_ids).toEqual([sg.id])
    // In use by the port: the group cannot be deleted.
    await expect(os('security', 'group', 'delete', 'cli-web')).rejects.toThrow()
    await os('--os-region-name', 'region-one', 'network', 'create', '--external', 'cli-public')
    await os('subnet', 'create', '--network', 'cli-public', '--subnet-range', '198.51.100.0/28', 'cli-public-subnet')
    const fip = await osJson('floating', 'ip', 'create', 'cli-public')
    expect(fip.floating_ip_address).toMatch(/^198\.51\.100\./)
    await os('--os-region-name', 'region-one', 'server', 'add', 'floating', 'ip', 'cli-vm3', fip.floating_ip_address)
    const shown = await osJson('floating', 'ip', 'show', fip.id)
    expect(shown).toMatchObject({ port_id: ports[0].ID, status: 'ACTIVE' })
  }, 180_000)
})
