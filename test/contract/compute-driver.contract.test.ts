import { randomUUID } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createDriver, libvirtAvailable } from '../../child-cell/compute/virt/create-driver.js'
import { ConsoleUnavailableError, InstanceNotFoundError, POWER_STATES, TEST_GUEST_CONSOLE } from '../../child-cell/compute/virt/driver.js'
import type { ComputeDriver, SpawnArgs } from '../../child-cell/compute/virt/driver.js'
import { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import { testHostUri, writeTestHostXml } from '../../child-cell/compute/virt/host-xml.js'
import { LibvirtDriver } from '../../child-cell/compute/virt/libvirt-driver.js'
import { ConflictError, InvalidError } from '../../shared/errors.js'

/** What a simulated host has; each implementation turns it into a driver of its own. */
interface HostSpec {
  readonly vcpus: number
  readonly memoryMb: number
  readonly localGb: number
}

interface Implementation {
  readonly name: string
  make(host: HostSpec): Promise<ComputeDriver>
}

let workDir = ''
let hostCounter = 0

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'compute-driver-contract-'))
})
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true })
})

const implementations: readonly Implementation[] = [
  {
    name: 'FakeDriver',
    make: (host) => Promise.resolve(new FakeDriver({ resources: host })),
  },
  {
    name: 'LibvirtDriver (test:///)',
    make: async (host) => {
      const n = ++hostCounter
      const uri = await writeTestHostXml({ path: join(workDir, `host-${n}.xml`), vcpus: host.vcpus, memoryMb: host.memoryMb })
      return new LibvirtDriver({ uri, diskGb: host.localGb, saveDir: join(workDir, `save-${n}`) })
    },
  },
]

const HOST: HostSpec = { vcpus: 8, memoryMb: 16384, localGb: 500 }

function guest(overrides: Partial<SpawnArgs> = {}): SpawnArgs {
  return { uuid: randomUUID(), name: 'vm <one> & "two"', memoryMb: 512, vcpus: 2, rootGb: 1, imageRef: 'cirros', ...overrides }
}

const STATES = ['running', 'paused', 'shutoff', 'suspended'] as const
type State = (typeof STATES)[number]
const OPERATIONS = ['pause', 'unpause', 'suspend', 'resume', 'powerOff', 'powerOn', 'softReboot', 'hardReboot'] as const
type Operation = (typeof OPERATIONS)[number]

/** The table in driver.ts: where each operation takes each state ('conflict': rejected, unchanged). */
const TRANSITIONS: Readonly<Record<Operation, Readonly<Record<State, State | 'conflict'>>>> = {
  pause: { running: 'paused', paused: 'paused', shutoff: 'conflict', suspended: 'conflict' },
  unpause: { running: 'running', paused: 'running', shutoff: 'conflict', suspended: 'conflict' },
  suspend: { running: 'suspended', paused: 'conflict', shutoff: 'conflict', suspended: 'suspended' },
  resume: { running: 'running', paused: 'conflict', shutoff: 'conflict', suspended: 'running' },
  powerOff: { running: 'shutoff', paused: 'shutoff', shutoff: 'shutoff', suspended: 'shutoff' },
  powerOn: { running: 'running', paused: 'conflict', shutoff: 'running', suspended: 'running' },
  softReboot: { running: 'running', paused: 'running', shutoff: 'running', suspended: 'running' },
  hardReboot: { running: 'running', paused: 'running', shutoff: 'running', suspended: 'running' },
}

function apply(driver: ComputeDriver, op: Operation, uuid: string): Promise<void> {
  if (op === 'softReboot') return driver.reboot(uuid, false)
  if (op === 'hardReboot') return driver.reboot(uuid, true)
  return driver[op](uuid)
}

async function bringTo(driver: ComputeDriver, uuid: string, state: State): Promise<void> {
  if (state === 'paused') await driver.pause(uuid)
  if (state === 'shutoff') await driver.powerOff(uuid)
  if (state === 'suspended') await driver.suspend(uuid)
}

/**
 * The guest's state as the table names it. Both shut off and suspended guests report SHUTDOWN
 * (as in Nova's libvirt driver); `suspend` tells them apart without changing either: it is a
 * no-op on a suspended guest and a conflict on a shut-off one.
 */
async function observe(driver: ComputeDriver, uuid: string): Promise<State> {
  const { powerState } = await driver.getInfo(uuid)
  if (powerState === POWER_STATES.RUNNING) return 'running'
  if (powerState === POWER_STATES.PAUSED) return 'paused'
  expect(powerState).toBe(POWER_STATES.SHUTDOWN)
  try {
    await driver.suspend(uuid)
    return 'suspended'
  } catch (err) {
    expect(err).toBeInstanceOf(ConflictError)
    return 'shutoff'
  }
}

describe.each(implementations)('ComputeDriver contract: $name', (impl) => {
  let driver: ComputeDriver

  beforeEach(async () => {
    driver = await impl.make(HOST)
    await driver.init()
  })
  afterEach(async () => {
    await driver.close()
  })

  it('reports the configured inventory', async () => {
    const res = await driver.getHostResources()
    expect(res).toMatchObject({ vcpus: 8, memoryMb: 16384, localGb: 500, cpuArch: 'x86_64' })
    expect(res.hypervisorType).not.toBe('')
    expect(Number.isInteger(res.hypervisorVersion)).toBe(true)
    expect(await driver.listInstances()).toEqual([])
  })

  it('spawns a running guest with the requested size and our uuid', async () => {
    const args = guest({ memoryMb: 768, vcpus: 3 })
    await driver.spawn(args)
    expect(await driver.getInfo(args.uuid)).toEqual({ powerState: POWER_STATES.RUNNING, memoryMb: 768, vcpus: 3, rescued: false })
    expect(await driver.listInstances()).toEqual([args.uuid])
  })

  it('refuses to spawn a uuid twice and leaves the first guest alone', async () => {
    const args = guest()
    await driver.spawn(args)
    await driver.pause(args.uuid)
    await expect(driver.spawn({ ...args, memoryMb: 1024 })).rejects.toBeInstanceOf(ConflictError)
    expect(await driver.getInfo(args.uuid)).toMatchObject({ powerState: POWER_STATES.PAUSED, memoryMb: 512 })
  })

  it('lets exactly one of two concurrent spawns of one uuid win', async () => {
    const args = guest()
    const results = await Promise.allSettled([driver.spawn(args), driver.spawn(args)])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const rejected = results.find((r) => r.status === 'rejected')
    expect(rejected?.status === 'rejected' && rejected.reason).toBeInstanceOf(ConflictError)
    expect((await driver.getInfo(args.uuid)).powerState).toBe(POWER_STATES.RUNNING)
  })

  it.each([
    ['a malformed uuid', { uuid: 'not-a-uuid' }],
    ['no memory', { memoryMb: 0 }],
    ['no vcpus', { vcpus: 0 }],
    ['fractional vcpus', { vcpus: 1.5 }],
    ['negative disk', { rootGb: -1 }],
    ['a relative disk path', { diskPath: 'instances/disk' }],
    ['an unknown disk format', { diskPath: '/srv/instances/x/disk', diskFormat: 'vmdk' as 'raw' }],
    ['a relative config drive path', { configDrivePath: 'instances/disk.config' }],
  ])('rejects spawn arguments with %s', async (_label, overrides) => {
    await expect(driver.spawn(guest(overrides))).rejects.toBeInstanceOf(InvalidError)
    expect(await driver.listInstances()).toEqual([])
  })

  it('spawns with a disk compute prepared, and leaves that file alone on destroy (compute owns it)', async () => {
    // Neither driver under test has disks (libvirt's test driver, the fake): the disk is ignored.
    const args = guest({ diskPath: join(workDir, 'prepared-disk'), diskFormat: 'qcow2' })
    writeFileSync(args.diskPath!, 'not a real disk')
    await driver.spawn(args)
    expect((await driver.getInfo(args.uuid)).powerState).toBe(POWER_STATES.RUNNING)
    await driver.destroy(args.uuid)
    expect(await driver.listInstances()).not.toContain(args.uuid)
    expect(readFileSync(args.diskPath!, 'utf8')).toBe('not a real disk')
  })

  it('spawns with a config drive compute built, running, and leaves the ISO alone on destroy (compute owns it)', async () => {
    const args = guest({ configDrivePath: join(workDir, `config-drive-${randomUUID()}.iso`) })
    writeFileSync(args.configDrivePath!, 'not a real iso')
    await driver.spawn(args)
    expect((await driver.getInfo(args.uuid)).powerState).toBe(POWER_STATES.RUNNING)
    await driver.destroy(args.uuid)
    expect(readFileSync(args.configDrivePath!, 'utf8')).toBe('not a real iso')
  })

  it('rescues a running or stopped guest (running from the rescue disk) and unrescues it; both idempotent', async () => {
    for (const start of ['running', 'shutoff'] as const) {
      const args = guest()
      await driver.spawn(args)
      if (start === 'shutoff') await driver.powerOff(args.uuid)
      await driver.rescue(args.uuid, { imageRef: 'rescue-image' })
      expect(await driver.getInfo(args.uuid)).toMatchObject({ powerState: POWER_STATES.RUNNING, rescued: true })
      await driver.rescue(args.uuid, {})
      expect((await driver.getInfo(args.uuid)).rescued).toBe(true)
      await driver.unrescue(args.uuid)
      expect(await driver.getInfo(args.uuid)).toMatchObject({ powerState: POWER_STATES.RUNNING, rescued: false, memoryMb: 512, vcpus: 2 })
      await driver.unrescue(args.uuid)
      expect(await driver.listInstances()).toContain(args.uuid)
    }
  })

  it('refuses to rescue a paused guest or an unknown one, and destroys a rescued guest', async () => {
    const args = guest()
    await driver.spawn(args)
    await driver.pause(args.uuid)
    await expect(driver.rescue(args.uuid, {})).rejects.toBeInstanceOf(ConflictError)
    expect(await driver.getInfo(args.uuid)).toMatchObject({ powerState: POWER_STATES.PAUSED, rescued: false })
    await expect(driver.rescue(randomUUID(), {})).rejects.toBeInstanceOf(InstanceNotFoundError)
    await expect(driver.unrescue(randomUUID())).rejects.toBeInstanceOf(InstanceNotFoundError)
    await driver.unpause(args.uuid)
    await driver.rescue(args.uuid, {})
    await driver.destroy(args.uuid)
    expect(await driver.listInstances()).toEqual([])
    await driver.spawn(args)
    expect((await driver.getInfo(args.uuid)).rescued).toBe(false)
  })

  it("answers the console output of a guest that wrote none (fake: empty; libvirt's test driver: its fixed boot log), and 404s an unknown guest", async () => {
    const args = guest()
    await driver.spawn(args)
    const silent = driver.name === 'fake' ? '' : TEST_GUEST_CONSOLE
    expect(await driver.getConsoleOutput(args.uuid)).toBe(silent)
    expect(await driver.getConsoleOutput(args.uuid, 10)).toBe(silent)
    await expect(driver.getConsoleOutput(randomUUID())).rejects.toBeInstanceOf(InstanceNotFoundError)
  })

  it('answers where a guest’s VNC console listens (an address and port, no password), the same after a reboot; no SPICE or serial console: unavailable; unknown guest: 404', async () => {
    const args = guest()
    await driver.spawn(args)
    const vnc = await driver.getConsole(args.uuid, 'vnc')
    expect(Object.keys(vnc).sort()).toEqual(['host', 'port'])
    expect(vnc.host).toBe('127.0.0.1')
    expect(Number.isInteger(vnc.port) && vnc.port >= 5900 && vnc.port < 65536).toBe(true)
    if (driver.name === 'libvirt') {
      // The test driver's guests declare their host's stand-in display, which speaks RFB.
      const banner = await new Promise<string>((resolve, reject) => {
        const s = connect(vnc)
        s.once('data', (d) => {
          resolve(d.toString())
          s.destroy()
        })
        s.once('error', reject)
      })
      expect(banner).toBe('RFB 003.008\n')
    }
    await driver.reboot(args.uuid, true)
    expect(await driver.getConsole(args.uuid, 'vnc')).toEqual(vnc)
    await expect(driver.getConsole(args.uuid, 'spice')).rejects.toBeInstanceOf(ConsoleUnavailableError)
    await expect(driver.getConsole(args.uuid, 'serial')).rejects.toBeInstanceOf(ConsoleUnavailableError)
    await expect(driver.getConsole(randomUUID(), 'vnc')).rejects.toBeInstanceOf(InstanceNotFoundError)
  })

  it('pauses and unpauses', async () => {
    const { uuid } = guest()
    await driver.spawn({ ...guest(), uuid })
    await driver.pause(uuid)
    expect((await driver.getInfo(uuid)).powerState).toBe(POWER_STATES.PAUSED)
    await driver.unpause(uuid)
    expect((await driver.getInfo(uuid)).powerState).toBe(POWER_STATES.RUNNING)
  })

  it('suspends to SHUTDOWN, as Nova reports a saved libvirt guest, and resumes to RUNNING', async () => {
    const args = guest()
    await driver.spawn(args)
    await driver.suspend(args.uuid)
    expect(await driver.getInfo(args.uuid)).toMatchObject({ powerState: POWER_STATES.SHUTDOWN, memoryMb: 512, vcpus: 2 })
    await driver.resume(args.uuid)
    expect((await driver.getInfo(args.uuid)).powerState).toBe(POWER_STATES.RUNNING)
  })

  it('does not resume a guest that was powered off rather than suspended', async () => {
    const { uuid } = guest()
    await driver.spawn({ ...guest(), uuid })
    await driver.powerOff(uuid)
    await expect(driver.resume(uuid)).rejects.toBeInstanceOf(ConflictError)
    expect((await driver.getInfo(uuid)).powerState).toBe(POWER_STATES.SHUTDOWN)
  })

  it('powers off and on', async () => {
    const { uuid } = guest()
    await driver.spawn({ ...guest(), uuid })
    await driver.powerOff(uuid)
    expect((await driver.getInfo(uuid)).powerState).toBe(POWER_STATES.SHUTDOWN)
    await driver.powerOn(uuid)
    expect((await driver.getInfo(uuid)).powerState).toBe(POWER_STATES.RUNNING)
  })

  it.each([false, true])('reboots a running guest (hard: %s)', async (hard) => {
    const { uuid } = guest()
    await driver.spawn({ ...guest(), uuid })
    await driver.reboot(uuid, hard)
    expect((await driver.getInfo(uuid)).powerState).toBe(POWER_STATES.RUNNING)
  })

  const cases = OPERATIONS.flatMap((op) => STATES.map((from) => ({ op, from, to: TRANSITIONS[op][from] })))
  it.each(cases)('$op from $from -> $to', async ({ op, from, to }) => {
    const { uuid } = guest()
    await driver.spawn({ ...guest(), uuid })
    await bringTo(driver, uuid, from)
    expect(await observe(driver, uuid)).toBe(from)
    if (to === 'conflict') {
      await expect(apply(driver, op, uuid)).rejects.toBeInstanceOf(ConflictError)
      expect(await observe(driver, uuid)).toBe(from)
    } else {
      await apply(driver, op, uuid)
      expect(await observe(driver, uuid)).toBe(to)
    }
  })

  it('destroys in any state, removes the guest, and destroys again without error', async () => {
    const uuids: string[] = []
    for (const state of STATES) {
      const { uuid } = guest()
      await driver.spawn({ ...guest(), uuid })
      await bringTo(driver, uuid, state)
      uuids.push(uuid)
    }
    for (const uuid of uuids) await driver.destroy(uuid)
    expect(await driver.listInstances()).toEqual([])
    for (const uuid of uuids) {
      await expect(driver.getInfo(uuid)).rejects.toBeInstanceOf(InstanceNotFoundError)
      await driver.destroy(uuid)
    }
  })

  it('can spawn a uuid again after destroying it', async () => {
    const args = guest()
    await driver.spawn(args)
    await driver.suspend(args.uuid)
    await driver.destroy(args.uuid)
    await driver.spawn(args)
    expect(await observe(driver, args.uuid)).toBe('running')
  })

  const unknownOps = [...OPERATIONS, 'getInfo'] as const
  it.each(unknownOps)('%s of an unknown uuid rejects with InstanceNotFoundError', async (op) => {
    const uuid = randomUUID()
    const call = op === 'getInfo' ? driver.getInfo(uuid) : apply(driver, op, uuid)
    const err: unknown = await call.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(InstanceNotFoundError)
    expect((err as InstanceNotFoundError).uuid).toBe(uuid)
  })

  it('treats a malformed uuid as unknown', async () => {
    await expect(driver.getInfo('nope')).rejects.toBeInstanceOf(InstanceNotFoundError)
    await expect(driver.pause('nope')).rejects.toBeInstanceOf(InstanceNotFoundError)
    await driver.destroy('nope')
  })

  it('destroys an unknown uuid without error', async () => {
    await driver.destroy(randomUUID())
  })

  it('accepts upper-case uuids and lists them in lower case', async () => {
    const uuid = randomUUID()
    await driver.spawn({ ...guest(), uuid: uuid.toUpperCase() })
    expect(await driver.listInstances()).toEqual([uuid])
    expect((await driver.getInfo(uuid.toUpperCase())).powerState).toBe(POWER_STATES.RUNNING)
    await driver.destroy(uuid.toUpperCase())
    expect(await driver.listInstances()).toEqual([])
  })

  it('runs many guests side by side', async () => {
    const uuids = Array.from({ length: 25 }, () => randomUUID())
    await Promise.all(uuids.map((uuid) => driver.spawn({ ...guest(), uuid })))
    expect((await driver.listInstances()).sort()).toEqual([...uuids].sort())
    await Promise.all(uuids.slice(0, 10).map((uuid) => driver.pause(uuid)))
    const states = await Promise.all(uuids.map(async (uuid) => (await driver.getInfo(uuid)).powerState))
    expect(states.filter((s) => s === POWER_STATES.PAUSED)).toHaveLength(10)
    await Promise.all(uuids.map((uuid) => driver.destroy(uuid)))
    expect(await driver.listInstances()).toEqual([])
  })

  it('keeps two hosts apart: own inventory, own guests', async () => {
    const other = await impl.make({ vcpus: 4, memoryMb: 2048, localGb: 40 })
    await other.init()
    try {
      expect(await other.getHostResources()).toMatchObject({ vcpus: 4, memoryMb: 2048, localGb: 40 })
      expect(await driver.getHostResources()).toMatchObject({ vcpus: 8, memoryMb: 16384, localGb: 500 })
      const mine = guest()
      await driver.spawn(mine)
      expect(await other.listInstances()).toEqual([])
      await expect(other.getInfo(mine.uuid)).rejects.toBeInstanceOf(InstanceNotFoundError)
      const theirs = guest()
      await other.spawn(theirs)
      expect(await driver.listInstances()).toEqual([mine.uuid])
      expect(await other.listInstances()).toEqual([theirs.uuid])
      await other.destroy(mine.uuid)
      expect(await driver.listInstances()).toEqual([mine.uuid])
    } finally {
      await other.close()
    }
  })

  it.each(['running', 'paused'] as const)('live-migrates a %s guest: defined on the target, then destroyed on the source', async (state) => {
    const target = await impl.make({ vcpus: 4, memoryMb: 8192, localGb: 100 })
    await target.init()
    try {
      const g = guest()
      await driver.spawn(g)
      if (state === 'paused') await driver.pause(g.uuid)
      const m = await driver.migrationSource(g.uuid)
      expect(m).toMatchObject({ uuid: g.uuid, driver: driver.name, state })
      // The source keeps running it until the target does.
      expect(await observe(driver, g.uuid)).toBe(state)
      await target.migrationTarget(m)
      await target.migrationTarget(m)
      await driver.destroy(g.uuid)
      expect(await driver.listInstances()).toEqual([])
      expect(await target.listInstances()).toEqual([g.uuid])
      expect(await target.getInfo(g.uuid)).toMatchObject({ memoryMb: 512, vcpus: 2 })
      expect(await observe(target, g.uuid)).toBe(state)
    } finally {
      await target.close()
    }
  })

  it('refuses to live-migrate a guest that is not running or paused, or unknown, and a foreign definition', async () => {
    const g = guest()
    await driver.spawn(g)
    await driver.powerOff(g.uuid)
    await expect(driver.migrationSource(g.uuid)).rejects.toBeInstanceOf(ConflictError)
    await expect(driver.migrationSource(randomUUID())).rejects.toBeInstanceOf(InstanceNotFoundError)
    const uuid = randomUUID()
    await expect(driver.migrationTarget({ uuid, driver: 'other', definition: '{}', state: 'running' })).rejects.toBeInstanceOf(InvalidError)
    expect(await driver.listInstances()).toEqual([g.uuid])
  })

  it('closes idempotently and refuses work once closed', async () => {
    await driver.close()
    await driver.close()
    await expect(driver.listInstances()).rejects.toThrow(/init/)
  })
})

describe('LibvirtDriver specifics', () => {
  let driver: LibvirtDriver
  let saveDir = ''

  beforeEach(async () => {
    saveDir = join(workDir, `specific-save-${++hostCounter}`)
    const uri = await writeTestHostXml({ path: join(workDir, `specific-${hostCounter}.xml`), vcpus: 2, memoryMb: 4096 })
    driver = new LibvirtDriver({ uri, saveDir })
    await driver.init()
  })
  afterEach(async () => {
    await driver.close()
  })

  it('keeps the definition of a rescued guest aside (with its serial console log) until unrescue', async () => {
    const args = guest()
    await driver.spawn(args)
    await driver.rescue(args.uuid, { imageRef: 'rescue' })
    const kept = readFileSync(join(saveDir, `${args.uuid}.unrescue.xml`), 'utf8')
    expect(kept).toContain(`<uuid>${args.uuid}</uuid>`)
    expect(kept).toMatch(/<serial type=.file.>/)
    expect(kept).not.toContain('federation-rescue')
    await driver.unrescue(args.uuid)
    expect(readdirSync(saveDir)).toEqual([])
  })

  it('reads the console log the domain writes under the instance directory, last lines first cut', async () => {
    const instancesPath = join(workDir, `specific-instances-${hostCounter}`)
    const uri = await writeTestHostXml({ path: join(workDir, `specific-console-${hostCounter}.xml`), vcpus: 2, memoryMb: 4096 })
    const withDir = new LibvirtDriver({ uri, saveDir, instancesPath })
    await withDir.init()
    try {
      const args = guest()
      await withDir.spawn(args)
      expect(await withDir.getConsoleOutput(args.uuid)).toBe(TEST_GUEST_CONSOLE)
      mkdirSync(join(instancesPath, args.uuid), { recursive: true })
      writeFileSync(join(instancesPath, args.uuid, 'console.log'), 'boot\nlogin: \ncirros\n')
      expect(await withDir.getConsoleOutput(args.uuid)).toBe('boot\nlogin: \ncirros\n')
      // Nova's tail: the empty text after the last newline is a line too (length N = N parts).
      expect(await withDir.getConsoleOutput(args.uuid, 2)).toBe('cirros\n')
      expect(await withDir.getConsoleOutput(args.uuid, 3)).toBe('login: \ncirros\n')
      expect(await withDir.getConsoleOutput(args.uuid, 0)).toBe('')
    } finally {
      await withDir.close()
    }
  })

  it('reports the test driver as hypervisor "test" with 1000 GiB of disk by default', async () => {
    expect(await driver.getHostResources()).toEqual({
      vcpus: 2,
      memoryMb: 4096,
      localGb: 1000,
      hypervisorType: 'test',
      hypervisorVersion: 2,
      cpuArch: 'x86_64',
      cpuModel: 'x86_64',
    })
  })

  it('keeps a suspended guest memory in saveDir and removes it on resume and on destroy', async () => {
    const a = guest()
    const b = guest()
    await driver.spawn(a)
    await driver.spawn(b)
    await driver.suspend(a.uuid)
    await driver.suspend(b.uuid)
    expect((await readdir(saveDir)).sort()).toEqual([`${a.uuid}.save`, `${b.uuid}.save`].sort())
    await driver.resume(a.uuid)
    await driver.destroy(b.uuid)
    expect(await readdir(saveDir)).toEqual([])
  })

  it('fails init on a host file that does not exist', async () => {
    const missing = new LibvirtDriver({ uri: testHostUri(join(workDir, 'missing.xml')), saveDir: join(workDir, 'save-missing') })
    await expect(missing.init()).rejects.toThrow()
    await missing.close()
  })

  it('refuses URIs of hypervisors it does not drive', () => {
    expect(() => new LibvirtDriver({ uri: 'xen:///system' })).toThrow(InvalidError)
  })

  it('writes host files whose path needs escaping', async () => {
    const uri = await writeTestHostXml({ path: join(workDir, 'dir with space', 'h.xml'), vcpus: 3, memoryMb: 1024 })
    expect(uri).toMatch(/^test:\/\/\/.*dir%20with%20space\/h\.xml$/)
    const spaced = new LibvirtDriver({ uri, saveDir: join(workDir, 'save-spaced') })
    await spaced.init()
    expect(await spaced.getHostResources()).toMatchObject({ vcpus: 3, memoryMb: 1024 })
    await spaced.close()
  })
})

describe('createDriver', () => {
  it('knows libvirt is available here (libvirt0 is a test prerequisite)', async () => {
    expect(await libvirtAvailable()).toBe(true)
  })

  it.each(['fake', 'libvirt'] as const)('builds a %s driver with the configured inventory', async (kind) => {
    const stateDir = join(workDir, `create-${kind}`)
    const driver = await createDriver({ kind, vcpus: 6, memoryMb: 3072, diskGb: 77, stateDir })
    expect(driver.name).toBe(kind)
    await driver.init()
    try {
      expect(await driver.getHostResources()).toMatchObject({ vcpus: 6, memoryMb: 3072, localGb: 77 })
      const args = guest()
      await driver.spawn(args)
      await driver.suspend(args.uuid)
      await driver.resume(args.uuid)
      expect((await driver.getInfo(args.uuid)).powerState).toBe(POWER_STATES.RUNNING)
    } finally {
      await driver.close()
    }
    if (kind === 'libvirt') expect(await readdir(stateDir)).toContain('libvirt-host.xml')
  })

  it('rejects an unknown kind', async () => {
    await expect(
      createDriver({ kind: 'xen' as 'fake', vcpus: 1, memoryMb: 1, diskGb: 1, stateDir: workDir }),
    ).rejects.toBeInstanceOf(InvalidError)
  })
})
