import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import type { Federation } from '../../bin/embedded.js'
import { TEST_GUEST_CONSOLE } from '../../child-cell/compute/virt/driver.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'

/** What one `openstack` run gave. */
interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * The real, unmodified python-openstackclient (Debian's `python3-openstackclient`) against an
 * embedded federation, configured only through the clouds.yaml the federation writes.
 */
describe('the real openstack CLI against an embedded federation', () => {
  let cfg: FederationConfig
  let fed: Federation
  let work: string
  let memberClouds: string
  let vm1: any
  let vm2: any

  const run = (cloudsFile: string, cloud: string, args: readonly string[]): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      // Only the clouds.yaml speaks: no OS_* variable of the machine running the tests leaks in.
      const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')))
      Object.assign(env, { OS_CLIENT_CONFIG_FILE: cloudsFile, OS_CLOUD: cloud, PYTHONWARNINGS: 'ignore' })
      execFile('openstack', [...args], { env, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err !== null && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error('the openstack CLI is missing: apt-get install python3-openstackclient'))
          return
        }
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
        resolve({ code, stdout, stderr })
      })
    })
  /** `openstack <args>` as admin; fails the test with the CLI's stderr unless it exits 0. */
  const os = async (...args: string[]): Promise<string> => {
    const r = await run(fed.cloudsYaml, 'federation', args)
    expect(r.code, `openstack ${args.join(' ')}\n${r.stderr}`).toBe(0)
    return r.stdout
  }
  /** Same with `-f json`, parsed. */
  const osJson = async (...args: string[]): Promise<any> => JSON.parse(await os(...args, '-f', 'json'))
  /** Polls `server show` until the status is reached with no task in progress. */
  const waitStatus = async (name: string, status: string, region = 'region-one'): Promise<any> => {
    const end = Date.now() + 60_000
    let last: any
    while (Date.now() < end) {
      last = await osJson('--os-region-name', region, 'server', 'show', name, '-c', 'id', '-c', 'status', '-c', 'OS-EXT-STS:task_state')
      if (last.status === status && last['OS-EXT-STS:task_state'] === null) return last
      if (last.status === 'ERROR') break
      await new Promise((r) => setTimeout(r, 200))
    }
    throw new Error(`server ${name} did not reach ${status}: ${JSON.stringify(last)}`)
  }

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    work = mkdtempSync(join(tmpdir(), 'os-cli-'))
  })

  afterAll(async () => {
    await fed?.stop()
    if (cfg !== undefined) removeDir(cfg.stateDir)
    if (work !== undefined) removeDir(work)
  })

  it('issues a token and lists the regions', async () => {
    const [token, regions] = await Promise.all([osJson('token', 'issue'), osJson('region', 'list')])
    expect(token.id.length).toBeGreaterThan(20)
    expect(token.project_id).toMatch(/^[0-9a-f]{32}$/)
    expect(regions.map((r: any) => [r.Region, r['Parent Region']])).toEqual([
      ['federation', null],
      ['region-one', 'federation'],
      ['region-two', 'federation'],
    ])
  })

  it('uploads an image whose checksum the CLI verifies, and lists the flavors', async () => {
    const file = join(work, 'img1.qcow2')
    const bytes = randomBytes(64 * 1024)
    writeFileSync(file, bytes)
    const created = await osJson('image', 'create', '--file', file, '--disk-format', 'qcow2', '--container-format', 'bare', 'img1')
    expect(created.name).toBe('img1')
    const shown = await osJson('image', 'show', 'img1')
    expect(shown).toMatchObject({ id: created.id, status: 'active', size: bytes.length, disk_format: 'qcow2', container_format: 'bare' })
    expect(shown.checksum).toBe(createHash('md5').update(bytes).digest('hex'))
    const flavors = await osJson('flavor', 'list')
    expect(flavors.find((f: any) => f.Name === 'm1.tiny')).toMatchObject({ ID: '1', RAM: 512, Disk: 1, VCPUs: 1 })
  })

  it('boots a server in each region with --wait and lists and shows them per region', async () => {
    ;[vm1, vm2] = await Promise.all([
      osJson('--os-region-name', 'region-one', 'server', 'create', '--image', 'cirros', '--flavor', 'm1.tiny', '--wait', 'vm1'),
      osJson('--os-region-name', 'region-two', 'server', 'create', '--image', 'cirros', '--flavor', 'm1.tiny', '--wait', 'vm2'),
    ])
    expect(vm1).toMatchObject({ name: 'vm1', status: 'ACTIVE', flavor: 'm1.tiny (1)' })
    expect(vm1['OS-EXT-SRV-ATTR:host']).toMatch(/^r1-dc[12]-c\d$/)
    expect(['dc1', 'dc2']).toContain(vm1['OS-EXT-AZ:availability_zone'])
    expect(vm2).toMatchObject({ name: 'vm2', status: 'ACTIVE' })
    expect(vm2['OS-EXT-SRV-ATTR:host']).toMatch(/^r2-c\d$/)
    expect(vm2['OS-EXT-AZ:availability_zone']).toBe('region-two-az')

    const [all, r1, r2] = await Promise.all([
      osJson('server', 'list', '--all-projects'),
      osJson('--os-region-name', 'region-one', 'server', 'list'),
      osJson('--os-region-name', 'region-two', 'server', 'list'),
    ])
    // No region name: the federation-wide region of clouds.yaml, whose endpoint spans every region.
    expect(all.map((s: any) => s.Name).sort()).toEqual(['vm1', 'vm2'])
    expect(r1.map((s: any) => s.Name)).toEqual(['vm1'])
    expect(r1[0]).toMatchObject({ ID: vm1.id, Status: 'ACTIVE', Image: 'cirros', Flavor: 'm1.tiny' })
    expect(r2.map((s: any) => s.ID)).toEqual([vm2.id])
    const shown = await osJson('server', 'show', 'vm1')
    expect(shown).toMatchObject({ id: vm1.id, status: 'ACTIVE', 'OS-EXT-STS:vm_state': 'active', 'OS-EXT-STS:power_state': 1 })
    expect(shown.image).toContain('cirros')
  })

  it('runs stop, start, reboot, pause, unpause, suspend and resume', async () => {
    const steps: Array<[string, string]> = [
      ['stop', 'SHUTOFF'],
      ['start', 'ACTIVE'],
      ['reboot', 'ACTIVE'],
      ['pause', 'PAUSED'],
      ['unpause', 'ACTIVE'],
      ['suspend', 'SUSPENDED'],
      ['resume', 'ACTIVE'],
    ]
    for (const [action, status] of steps) {
      await os('server', action, 'vm1')
      expect((await waitStatus('vm1', status)).status, action).toBe(status)
    }
    const refused = await run(fed.cloudsYaml, 'federation', ['server', 'unpause', 'vm1'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/409/)
    expect(refused.stderr).toContain("Cannot 'unpause' instance")
  }, 120_000)

  it('creates an image and a backup of a server, rescues, shelves and unshelves it, and shows its console log', async () => {
    const image = await osJson('server', 'image', 'create', '--name', 'vm1-snap', '--wait', 'vm1')
    expect(image).toMatchObject({ name: 'vm1-snap', status: 'active' })
    const props = await osJson('image', 'show', 'vm1-snap')
    expect(JSON.stringify(props.properties)).toContain(vm1.id)
    await waitStatus('vm1', 'ACTIVE')
    await os('server', 'backup', 'create', '--name', 'vm1-bak', '--type', 'daily', '--rotate', '1', '--wait', 'vm1')
    await waitStatus('vm1', 'ACTIVE')
    // Guests of libvirt's test driver boot no OS: their console is the driver's fixed boot log (the
    // fake driver's is empty until a test writes to it).
    expect((await os('console', 'log', 'show', '--lines', '20', 'vm1')).trim()).toBe(fed.driver === 'libvirt' ? TEST_GUEST_CONSOLE.trim() : '')
    await os('server', 'rescue', 'vm1')
    await waitStatus('vm1', 'RESCUE')
    await os('server', 'unrescue', 'vm1')
    await waitStatus('vm1', 'ACTIVE')
    await os('server', 'shelve', 'vm1')
    await waitStatus('vm1', 'SHELVED_OFFLOADED')
    await os('server', 'unshelve', 'vm1')
    const back = await waitStatus('vm1', 'ACTIVE')
    expect(back.id).toBe(vm1.id)
    // The shelved image went with the unshelve, as in Nova.
    const left = (await osJson('image', 'list')).map((i: any) => i.Name)
    expect(left).not.toContain('vm1-shelved')
    await os('image', 'delete', 'vm1-snap', 'vm1-bak')
  })

  it('lists hypervisors across the federation and per region, and shows them with the host uptime', async () => {
    const [all, r1, r2] = await Promise.all([
      osJson('hypervisor', 'list'),
      osJson('--os-region-name', 'region-one', 'hypervisor', 'list'),
      osJson('--os-region-name', 'region-two', 'hypervisor', 'list'),
    ])
    expect(all.map((h: any) => h['Hypervisor Hostname']).sort()).toEqual(
      [...r1, ...r2].map((h: any) => h['Hypervisor Hostname']).sort(),
    )
    expect(all).toHaveLength(12)
    expect(r1.map((h: any) => h['Hypervisor Hostname']).sort()).toEqual(['r1-dc1-c1', 'r1-dc1-c2', 'r1-dc1-c3', 'r1-dc1-c4', 'r1-dc2-c1', 'r1-dc2-c2', 'r1-dc2-c3', 'r1-dc2-c4'])
    expect(r2.map((h: any) => h['Hypervisor Hostname']).sort()).toEqual(['r2-c1', 'r2-c2', 'r2-c3', 'r2-c4'])
    for (const h of [...r1, ...r2]) expect(h).toMatchObject({ State: 'up', 'Host IP': '127.0.0.1' })
    const host = vm1['OS-EXT-SRV-ATTR:host'] as string
    const shown = await osJson('hypervisor', 'show', host)
    expect(shown).toMatchObject({ hypervisor_hostname: host, service_host: host, state: 'up', status: 'enabled', aggregates: [vm1['OS-EXT-AZ:availability_zone']] })
    expect(shown.running_vms).toBeGreaterThanOrEqual(1)
    expect(shown.users).toBe('0')
    expect(shown.load_average).toMatch(/^\d+\.\d\d, \d+\.\d\d, \d+\.\d\d$/)
    expect(shown.vcpus_used).toBeGreaterThanOrEqual(1)
    const byId = await osJson('hypervisor', 'show', String(shown.id))
    expect(byId.hypervisor_hostname).toBe(host)
  })

  it('lists compute services, disables one with a reason and enables it again', async () => {
    const [services, r1Services] = await Promise.all([
      osJson('compute', 'service', 'list'),
      osJson('--os-region-name', 'region-one', 'compute', 'service', 'list'),
    ])
    expect(services).toHaveLength(12)
    expect(r1Services).toHaveLength(8)
    for (const s of services) expect(s).toMatchObject({ Binary: 'nova-compute', Status: 'enabled', State: 'up' })
    await os('compute', 'service', 'set', '--disable', '--disable-reason', 'x', 'r1-dc1-c4', 'nova-compute')
    const disabled = (await osJson('compute', 'service', 'list', '--long', '--host', 'r1-dc1-c4'))[0]
    expect(disabled).toMatchObject({ Host: 'r1-dc1-c4', Status: 'disabled', 'Disabled Reason': 'x', Zone: 'dc1' })
    expect((await osJson('hypervisor', 'show', 'r1-dc1-c4')).status).toBe('disabled')
    await os('compute', 'service', 'set', '--enable', 'r1-dc1-c4', 'nova-compute')
    const enabled = (await osJson('compute', 'service', 'list', '--long', '--host', 'r1-dc1-c4'))[0]
    expect(enabled).toMatchObject({ Status: 'enabled', 'Disabled Reason': null })
    const missing = await run(fed.cloudsYaml, 'federation', ['compute', 'service', 'set', '--disable', 'no-such-host', 'nova-compute'])
    expect(missing.code).toBe(1)
  })

  it('lists availability zones, with hosts and services in --long', async () => {
    const [r1, r2, long, all] = await Promise.all([
      osJson('--os-region-name', 'region-one', 'availability', 'zone', 'list'),
      osJson('--os-region-name', 'region-two', 'availability', 'zone', 'list'),
      osJson('--os-region-name', 'region-one', 'availability', 'zone', 'list', '--long'),
      osJson('availability', 'zone', 'list'),
    ])
    expect(all.map((z: any) => z['Zone Name']).sort()).toEqual(['dc1', 'dc2', 'region-two-az'])
    expect(r1).toEqual([
      { 'Zone Name': 'dc1', 'Zone Status': 'available' },
      { 'Zone Name': 'dc2', 'Zone Status': 'available' },
    ])
    expect(r2).toEqual([{ 'Zone Name': 'region-two-az', 'Zone Status': 'available' }])
    expect(long).toHaveLength(8)
    expect(long.find((z: any) => z['Host Name'] === 'r1-dc2-c1')).toMatchObject({ 'Zone Name': 'dc2', 'Service Name': 'nova-compute' })
    expect(long[0]['Service Status']).toMatch(/^enabled :-\) \d{4}-/)
  })

  it('shows the absolute limits, counted over both regions', async () => {
    const limits = await osJson('limits', 'show', '--absolute')
    const byName = new Map<string, unknown>(limits.map((l: any) => [l.Name, l.Value]))
    expect(byName.get('totalInstancesUsed')).toBe(2)
    expect(byName.get('totalCoresUsed')).toBe(2)
    expect(byName.get('totalRAMUsed')).toBe(1024)
    expect(typeof byName.get('maxTotalInstances')).toBe('number')
  })

  it('keeps a member of another project away from admin servers and admin APIs', async () => {
    await os('project', 'create', 'cli-p1')
    await os('user', 'create', '--password', 'pw-cli-u1', '--project', 'cli-p1', 'cli-u1')
    await os('role', 'add', '--user', 'cli-u1', '--project', 'cli-p1', 'member')
    const clouds = parse(readFileSync(fed.cloudsYaml, 'utf8')) as { clouds: Record<string, any> }
    const base = clouds.clouds['federation']
    clouds.clouds['member'] = { ...base, auth: { ...base.auth, username: 'cli-u1', password: 'pw-cli-u1', project_name: 'cli-p1' } }
    memberClouds = join(work, 'clouds.yaml')
    writeFileSync(memberClouds, stringify(clouds), { mode: 0o600 })

    const [list, show, hypervisors, services] = await Promise.all([
      run(memberClouds, 'member', ['server', 'list', '-f', 'json']),
      run(memberClouds, 'member', ['server', 'show', vm1.id]),
      run(memberClouds, 'member', ['hypervisor', 'list']),
      run(memberClouds, 'member', ['compute', 'service', 'list']),
    ])
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([])
    expect(show.code).toBe(1)
    expect(hypervisors.code).toBe(1)
    expect(hypervisors.stderr).toContain("Policy doesn't allow os_compute_api:os-hypervisors")
    expect(hypervisors.stderr).toContain('HTTP 403')
    expect(services.code).toBe(1)
    const zones = await run(memberClouds, 'member', ['availability', 'zone', 'list', '-f', 'json'])
    expect(zones.code, zones.stderr).toBe(0)
    expect(JSON.parse(zones.stdout)).toHaveLength(3)
  })

  it('manages keypairs, server groups, flavors and quotas, and boots with a key into a group', async () => {
    const privateKey = await os('keypair', 'create', 'kp1')
    expect(privateKey).toContain('PRIVATE KEY-----')
    const [keypairs, group, flavor] = await Promise.all([
      osJson('keypair', 'list'),
      osJson('server', 'group', 'create', '--policy', 'anti-affinity', 'sg1'),
      osJson('flavor', 'create', '--ram', '256', '--disk', '1', '--vcpus', '1', '--property', 'hw:cpu_policy=shared', '--property', 'quota:disk_read_bytes_sec=1000', 'f-cli'),
    ])
    expect(keypairs).toEqual([expect.objectContaining({ Name: 'kp1', Type: 'ssh' })])
    expect(group).toMatchObject({ name: 'sg1', policy: 'anti-affinity', members: [] })
    expect(flavor).toMatchObject({ name: 'f-cli', ram: 256, disk: 1, vcpus: 1 })
    expect((await osJson('flavor', 'show', 'f-cli')).properties).toEqual({ 'hw:cpu_policy': 'shared', 'quota:disk_read_bytes_sec': '1000' })
    await os('quota', 'set', '--instances', '7', 'admin')
    expect((await osJson('quota', 'show', 'admin')).instances).toBe(7)
    const vm = await osJson('server', 'create', '--image', 'cirros', '--flavor', 'f-cli', '--key-name', 'kp1', '--hint', `group=${group.id}`, '--wait', 'vmk')
    expect(vm).toMatchObject({ status: 'ACTIVE', key_name: 'kp1', flavor: 'f-cli (' + flavor.id + ')' })
    expect((await osJson('server', 'group', 'show', 'sg1')).members).toEqual([vm.id])
    await os('server', 'delete', '--wait', 'vmk')
    await Promise.all([os('server', 'group', 'delete', 'sg1'), os('keypair', 'delete', 'kp1'), os('flavor', 'delete', 'f-cli')])
    const [groupsAfter, keypairsAfter] = await Promise.all([osJson('server', 'group', 'list'), osJson('keypair', 'list')])
    expect(groupsAfter).toEqual([])
    expect(keypairsAfter).toEqual([])
  }, 90_000)

  it('resizes, confirms, reverts, cold- and live-migrates a server, and lists its migrations', async () => {
    const r2 = ['--os-region-name', 'region-two']
    await os(...r2, 'server', 'resize', '--flavor', 'm1.small', '--wait', 'vm2')
    expect((await waitStatus('vm2', 'VERIFY_RESIZE', 'region-two')).status).toBe('VERIFY_RESIZE')
    await os(...r2, 'server', 'resize', 'confirm', 'vm2')
    await waitStatus('vm2', 'ACTIVE', 'region-two')
    expect((await osJson(...r2, 'server', 'show', 'vm2', '-c', 'flavor')).flavor).toMatch(/m1\.small/)
    await os(...r2, 'server', 'resize', '--flavor', 'm1.medium', '--wait', 'vm2')
    await os(...r2, 'server', 'resize', 'revert', 'vm2')
    await waitStatus('vm2', 'ACTIVE', 'region-two')
    expect((await osJson(...r2, 'server', 'show', 'vm2', '-c', 'flavor')).flavor).toMatch(/m1\.small/)
    const before = (await osJson(...r2, 'server', 'show', 'vm2'))['OS-EXT-SRV-ATTR:host']
    await os(...r2, 'server', 'migrate', '--wait', 'vm2')
    await waitStatus('vm2', 'VERIFY_RESIZE', 'region-two')
    await os(...r2, 'server', 'resize', 'confirm', 'vm2')
    await waitStatus('vm2', 'ACTIVE', 'region-two')
    const migrated = (await osJson(...r2, 'server', 'show', 'vm2'))['OS-EXT-SRV-ATTR:host']
    expect(migrated).not.toBe(before)
    await os(...r2, 'server', 'migrate', '--live-migration', '--wait', 'vm2')
    await waitStatus('vm2', 'ACTIVE', 'region-two')
    expect((await osJson(...r2, 'server', 'show', 'vm2'))['OS-EXT-SRV-ATTR:host']).not.toBe(migrated)
    const list = await osJson(...r2, 'server', 'migration', 'list', '--server', 'vm2')
    expect(list.map((m: any) => m.Status).sort()).toEqual(['completed', 'confirmed', 'confirmed', 'reverted'])
    expect(new Set(list.map((m: any) => m['Server UUID']))).toEqual(new Set([vm2.id]))
    const typed = await osJson(...r2, '--os-compute-api-version', '2.23', 'server', 'migration', 'list', '--server', 'vm2')
    expect(typed.map((m: any) => m.Type).sort()).toEqual(['live-migration', 'migration', 'resize', 'resize'])
  }, 240_000)

  it('migrates a server across regions to a named host, keeping its id', async () => {
    await os('--os-compute-api-version', '2.56', 'server', 'migrate', '--host', 'r2-c1', '--wait', vm1.id)
    await waitStatus(vm1.id, 'VERIFY_RESIZE', 'federation')
    await os('server', 'resize', 'confirm', vm1.id)
    const moved = await waitStatus(vm1.id, 'ACTIVE', 'federation')
    expect(moved.id).toBe(vm1.id)
    const shown = await osJson('--os-region-name', 'region-two', 'server', 'show', 'vm1')
    expect(shown).toMatchObject({ id: vm1.id, 'OS-EXT-SRV-ATTR:host': 'r2-c1', status: 'ACTIVE' })
    expect((await osJson('--os-region-name', 'region-one', 'server', 'list')).map((x: any) => x.ID)).not.toContain(vm1.id)
  }, 120_000)

  it('deletes the servers with --wait', async () => {
    await Promise.all([os('server', 'delete', '--wait', 'vm1'), os('--os-region-name', 'region-two', 'server', 'delete', '--wait', 'vm2')])
    const [all, r2] = await Promise.all([osJson('server', 'list', '--all-projects'), osJson('--os-region-name', 'region-two', 'server', 'list')])
    expect(all).toEqual([])
    expect(r2).toEqual([])
    const gone = await run(fed.cloudsYaml, 'federation', ['server', 'show', vm1.id])
    expect(gone.code).toBe(1)
    expect(gone.stderr).toContain(`No server with a name or ID of '${vm1.id}' exists.`)
  })

  it('console url show: a noVNC URL of the region’s console proxy with a token, at 2.1 (os-getVNCConsole) and 2.6 (remote-consoles)', async () => {
    const r2 = ['--os-region-name', 'region-two']
    await osJson(...r2, 'server', 'create', '--image', 'cirros', '--flavor', 'm1.tiny', '--wait', 'vm-console')
    const proxy = fed.api.consoleUrls['region-two']
    expect(proxy).toBeDefined()
    const old = await osJson(...r2, 'console', 'url', 'show', 'vm-console')
    expect(old.type).toBe('novnc')
    expect(old.url.startsWith(`${proxy}/vnc_auto.html?path=%3Ftoken%3D`)).toBe(true)
    const v26 = await osJson(...r2, '--os-compute-api-version', '2.6', 'console', 'url', 'show', '--novnc', 'vm-console')
    expect(v26).toMatchObject({ protocol: 'vnc', type: 'novnc' })
    expect(v26.url.startsWith(`${proxy}/vnc_auto.html?path=%3Ftoken%3D`)).toBe(true)
    expect(v26.url).not.toBe(old.url)
    // The page a browser opens first, then the WebSocket noVNC opens with the URL's path: it
    // reaches the guest's display (the test driver host's stand-in RFB server) through the proxy.
    expect((await fetch(v26.url)).status).toBe(200)
    const path = new URL(v26.url).searchParams.get('path') ?? ''
    const banner = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`${proxy?.replace('http', 'ws')}/websockify${path}`, ['binary'])
      ws.on('message', (d: Buffer) => {
        resolve(d.toString())
        ws.close()
      })
      ws.on('error', reject)
    })
    expect(banner).toBe('RFB 003.008\n')
    // No SPICE display on these guests: Nova's 400, which the CLI reports.
    const spice = await run(fed.cloudsYaml, 'federation', [...r2, 'console', 'url', 'show', '--spice', 'vm-console'])
    expect(spice.code).toBe(1)
    expect(spice.stderr).toContain('Unavailable console type spice')
    await os(...r2, 'server', 'delete', '--wait', 'vm-console')
  }, 120_000)
})
