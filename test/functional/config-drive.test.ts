import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnRecordOf } from '../../child-cell/conductor/operations/build-specs.js'
import { buildConfigDrive, ConfigDriveToolMissingError } from '../../child-cell/compute/config-drive.js'
import { ImageCache } from '../../child-cell/compute/image-cache.js'
import type { ComputeContext } from '../../child-cell/compute/manager.js'
import { spawnInstance } from '../../child-cell/compute/operations/spawn.js'
import { syncHost } from '../../child-cell/compute/operations/sync.js'
import { terminateInstance } from '../../child-cell/compute/operations/terminate.js'
import type { ComputeDriver } from '../../child-cell/compute/virt/driver.js'
import { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import { writeTestHostXml } from '../../child-cell/compute/virt/host-xml.js'
import { LibvirtDriver } from '../../child-cell/compute/virt/libvirt-driver.js'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import { recordFromSpec } from '../../shared/cell-link/build-spec.js'
import { systemContext } from '../../shared/context.js'
import { createLogger } from '../../shared/logging.js'
import { buildSpecFixture } from '../helpers/build-spec.js'

const run = promisify(execFile)
const USER_DATA = '#!/bin/sh\necho configured by the drive\n'

interface Update {
  vmState: string
  fault?: { message: string }
}

/** A compute host's context around `driver`, its conductor a recorder of the reports. */
function hostContext(driver: ComputeDriver, images?: ImageCache): { c: ComputeContext; updates: Update[] } {
  const updates: Update[] = []
  const c = {
    settings: { host: 'h1' },
    driver,
    ...(images === undefined ? {} : { images }),
    conductor: {
      instanceUpdate: (_ctx: unknown, u: Update) => Promise.resolve({ applied: updates.push(u) > 0 }),
      instanceDestroyed: () => Promise.resolve(),
    },
    log: createLogger('test'),
  } as unknown as ComputeContext
  return { c, updates }
}

/** What the conductor casts for a build with a config drive. */
function castFor(spec: BuildSpec) {
  return spawnRecordOf({ ...recordFromSpec(spec), host: 'h1', availabilityZone: 'nova', cellPath: 'api!region-one!dc1' }, spec)
}

/** A file of the ISO, read back with xorriso (as a guest would mount it). */
async function isoFile(iso: string, path: string, dir: string): Promise<string> {
  const out = join(dir, `extract-${path.replaceAll('/', '_')}`)
  await run('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', path, out])
  return readFileSync(out, 'utf8')
}

/**
 * Config drive (issue #13): the conductor renders the metadata files from the build spec, compute
 * packs them into an ISO 9660 labelled config-2 with xorriso, the libvirt driver (test driver)
 * attaches it as a read-only cdrom; the fake driver records it.
 */
describe('config drive', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wtn4-config-drive-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const spec = (overrides: Partial<BuildSpec> = {}): BuildSpec =>
    buildSpecFixture({
      configDrive: true,
      name: 'drive-vm',
      hostname: 'drive-vm',
      keyName: 'k1',
      keyData: 'ssh-ed25519 AAAAC3Nz k1',
      metadata: { role: 'db' },
      userData: Buffer.from(USER_DATA).toString('base64'),
      ...overrides,
    })

  it('the conductor casts the files only for a build that asked for a drive, and records config_drive True', () => {
    const withDrive = castFor(spec())
    expect(withDrive.configDrive).toBe('True')
    const paths = (withDrive.configDriveFiles ?? []).map((f) => f.path)
    expect(paths).toContain('openstack/latest/meta_data.json')
    expect(paths).toContain('openstack/latest/user_data')
    expect(paths).toContain('ec2/latest/meta-data.json')
    // The user data is on the drive once per version, and crosses the bus once.
    const userData = (withDrive.configDriveFiles ?? []).filter((f) => f.path.endsWith('user_data') || f.path.endsWith('user-data'))
    expect(userData.length).toBeGreaterThan(5)
    expect(userData.filter((f) => 'contentBase64' in f)).toHaveLength(1)
    const without = castFor(spec({ configDrive: false }))
    expect(without.configDriveFiles).toBeUndefined()
    expect(without.configDrive).toBe('')
  })

  it('libvirt test driver: the ISO is an ISO 9660 labelled config-2 holding the metadata, attached as a read-only cdrom', async () => {
    const uri = await writeTestHostXml({ path: join(dir, 'host.xml'), vcpus: 4, memoryMb: 8192 })
    const driver = new LibvirtDriver({ uri, saveDir: join(dir, 'save') })
    await driver.init()
    const images = new ImageCache({ instancesPath: join(dir, 'instances') })
    const { c, updates } = hostContext(driver, images)
    const s = spec()
    try {
      await spawnInstance(c, systemContext(), castFor(s))
      expect(updates.map((u) => u.vmState)).toEqual(['active'])
      const iso = join(images.instanceDir(s.instanceUuid), 'disk.config')
      expect(existsSync(iso)).toBe(true)
      const pvd = await run('xorriso', ['-indev', iso, '-pvd_info'])
      expect(`${pvd.stdout}${pvd.stderr}`).toMatch(/Volume Id\s*:\s*config-2/)
      const ls = await run('xorriso', ['-indev', iso, '-ls', '/openstack/latest'])
      expect(ls.stdout).toContain('meta_data.json')
      expect(ls.stdout).toContain('network_data.json')
      const md = JSON.parse(await isoFile(iso, '/openstack/latest/meta_data.json', dir)) as Record<string, unknown>
      expect(md).toMatchObject({ uuid: s.instanceUuid, name: 'drive-vm', hostname: 'drive-vm', availability_zone: 'nova', meta: { role: 'db' }, public_keys: { k1: 'ssh-ed25519 AAAAC3Nz k1' } })
      expect(await isoFile(iso, '/openstack/latest/user_data', dir)).toBe(USER_DATA)
      expect(await isoFile(iso, '/openstack/latest/network_data.json', dir)).toBe('{}')
      // The domain as libvirt holds it: the ISO on a read-only cdrom.
      const xml = (await driver.migrationSource(s.instanceUuid)).definition
      const cdrom = /<disk type=.file. device=.cdrom.>[\s\S]*?<\/disk>/.exec(xml)?.[0] ?? ''
      expect(cdrom).toContain(`<source file='${iso}'/>`)
      expect(cdrom).toContain('<readonly/>')
      await driver.destroy(s.instanceUuid)
    } finally {
      await driver.close()
    }
  })

  it('fake driver: records the drive, which a guest recreated at host start gets again; terminating the instance removes it', async () => {
    const driver = new FakeDriver({ resources: { vcpus: 4, memoryMb: 8192, localGb: 100 } })
    await driver.init()
    const { c, updates } = hostContext(driver)
    const s = spec()
    await spawnInstance(c, systemContext(), castFor(s))
    expect(updates.map((u) => u.vmState)).toEqual(['active'])
    const iso = driver.configDriveOf(s.instanceUuid) ?? ''
    expect(iso.endsWith('disk.config')).toBe(true)
    expect(existsSync(iso)).toBe(true)
    // The host restarts and its hypervisor forgot the guest: it is recreated with its drive.
    const after = new FakeDriver({ resources: { vcpus: 4, memoryMb: 8192, localGb: 100 } })
    await after.init()
    const active = { ...castFor(s), vmState: 'active', taskState: null }
    const restarted = {
      ...hostContext(after).c,
      settings: { host: 'h1', resumeGuestsStateOnHostBoot: true },
      conductor: { instancesOnHost: () => Promise.resolve([active]) },
    } as unknown as ComputeContext
    await syncHost(restarted, systemContext())
    expect(after.configDriveOf(s.instanceUuid)).toBe(iso)
    await terminateInstance(c, systemContext(), s.instanceUuid)
    expect(existsSync(iso)).toBe(false)
    // A build without a drive gets none.
    const plain = spec({ configDrive: false })
    await spawnInstance(c, systemContext(), castFor(plain))
    expect(driver.configDriveOf(plain.instanceUuid)).toBeUndefined()
  })

  it('without xorriso the build fails with the reason, and no guest is left', async () => {
    await expect(buildConfigDrive({ dir: join(dir, 'no-tool'), files: [{ path: 'openstack/latest/meta_data.json', contentBase64: '' }], xorriso: join(dir, 'no-such-xorriso') })).rejects.toBeInstanceOf(ConfigDriveToolMissingError)
    const driver = new FakeDriver({ resources: { vcpus: 4, memoryMb: 8192, localGb: 100 } })
    await driver.init()
    const { c, updates } = hostContext(driver)
    const s = spec()
    const path = process.env['PATH']
    process.env['PATH'] = join(dir, 'empty-path')
    try {
      await spawnInstance(c, systemContext(), castFor(s))
    } finally {
      process.env['PATH'] = path
    }
    expect(updates.map((u) => u.vmState)).toEqual(['error'])
    expect(updates[0]?.fault?.message).toContain('xorriso is not installed')
    expect(await driver.listInstances()).toEqual([])
  })

  it('refuses a file the same as an unknown one, and writes nothing', async () => {
    const target = join(dir, 'bad-same-as')
    await expect(buildConfigDrive({ dir: target, files: [{ path: 'a', sameAs: 'b' }] })).rejects.toThrow(/unknown file/)
    expect(existsSync(join(target, 'disk.config'))).toBe(false)
  })

  it.each([['../escape'], ['/abs/path'], ['a//b'], ['']])('refuses the file path %j and writes nothing', async (bad) => {
    const target = join(dir, `bad-${Math.random().toString(16).slice(2)}`)
    await expect(buildConfigDrive({ dir: target, files: [{ path: bad, contentBase64: '' }] })).rejects.toThrow(/invalid config drive file path/)
    expect(existsSync(join(target, 'disk.config'))).toBe(false)
  })
})
