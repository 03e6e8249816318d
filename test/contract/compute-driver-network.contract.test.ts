import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ComputeDriver, SpawnArgs } from '../../child-cell/compute/virt/driver.js'
import { InstanceNotFoundError, POWER_STATES } from '../../child-cell/compute/virt/driver.js'
import { FakeDriver } from '../../child-cell/compute/virt/fake-driver.js'
import { filterNameOf } from '../../child-cell/compute/virt/guest-network.js'
import { writeTestHostXml } from '../../child-cell/compute/virt/host-xml.js'
import { LibvirtDriver } from '../../child-cell/compute/virt/libvirt-driver.js'
import { nwfilterXml, portsInMetadata } from '../../child-cell/compute/virt/libvirt-network-xml.js'
import { ConflictError, InvalidError } from '../../shared/errors.js'
import { PORT_A, PORT_B, PORT_C } from '../helpers/network-info.js'

/**
 * The network part of the ComputeDriver contract (driver.ts), run against every driver as the
 * main contract suite is: a guest's ports become its interfaces, in order, with their MACs and
 * bridges, whatever happens to the guest; security group rules reach what the hypervisor keeps.
 */
interface Implementation {
  readonly name: string
  make(): Promise<ComputeDriver>
  /** What the hypervisor keeps of a port's packet filter, rendered as text the rules can be found in. */
  filterOf(driver: ComputeDriver, uuid: string, portId: string): Promise<string>
}

let workDir = ''
let hostCounter = 0
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'compute-driver-network-'))
})
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true })
})

const implementations: readonly Implementation[] = [
  {
    name: 'FakeDriver',
    make: () => Promise.resolve(new FakeDriver({ resources: { vcpus: 8, memoryMb: 16384, localGb: 500 } })),
    filterOf: (driver, uuid, portId) => Promise.resolve(JSON.stringify((driver as FakeDriver).networkOf(uuid).filters.get(portId) ?? null)),
  },
  {
    name: 'LibvirtDriver (test:///)',
    make: async () => {
      const n = ++hostCounter
      const uri = await writeTestHostXml({ path: join(workDir, `host-${n}.xml`), vcpus: 8, memoryMb: 16384 })
      return new LibvirtDriver({ uri, diskGb: 500, saveDir: join(workDir, `save-${n}`) })
    },
    // The live definition of a running guest (what a live migration carries).
    filterOf: async (driver, uuid) => (await driver.migrationSource(uuid)).definition,
  },
]

function guest(overrides: Partial<SpawnArgs> = {}): SpawnArgs {
  return { uuid: randomUUID(), name: 'net-vm', memoryMb: 512, vcpus: 1, rootGb: 1, imageRef: 'cirros', networkInfo: [PORT_A, PORT_B], ...overrides }
}

/** MAC and bridge of each interface, in order. */
async function wiring(driver: ComputeDriver, uuid: string): Promise<Array<[string | null, string, string]>> {
  return (await driver.getInterfaces(uuid)).map((i) => [i.portId, i.macAddress, i.bridge])
}
const BOTH: Array<[string, string, string]> = [
  [PORT_A.portId, PORT_A.macAddress, PORT_A.bridge],
  [PORT_B.portId, PORT_B.macAddress, PORT_B.bridge],
]

describe.each(implementations)('ComputeDriver network contract: $name', (impl) => {
  let driver: ComputeDriver

  beforeEach(async () => {
    driver = await impl.make()
    await driver.init()
  })
  afterEach(async () => {
    await driver.close()
  })

  it('spawns a guest with two ports as two interfaces with their MACs, bridges, MTUs and filters', async () => {
    const args = guest()
    await driver.spawn(args)
    expect(await wiring(driver, args.uuid)).toEqual(BOTH)
    const [a, b] = await driver.getInterfaces(args.uuid)
    expect(a).toMatchObject({ mtu: 1450, device: `tap${PORT_A.portId.slice(0, 11)}`, filter: filterNameOf(PORT_A.portId) })
    expect(b).toMatchObject({ mtu: 1500, filter: null })
  })

  it('keeps the security group rules of a port with port security where the hypervisor holds the guest', async () => {
    const args = guest()
    await driver.spawn(args)
    const kept = await impl.filterOf(driver, args.uuid, PORT_A.portId)
    if (driver instanceof FakeDriver) {
      const rules = driver.networkOf(args.uuid).filters.get(PORT_A.portId) ?? []
      expect(rules).toContainEqual(expect.objectContaining({ action: 'accept', direction: 'in', protocol: 'tcp', portMin: 22, portMax: 22, remotePrefix: '192.0.2.0/24' }))
      expect(rules.at(-1)).toMatchObject({ action: 'drop', direction: 'inout' })
      expect(driver.networkOf(args.uuid).filters.has(PORT_B.portId)).toBe(false)
    } else {
      // The nwfilter, escaped into the domain's metadata (the binding cannot define it: see libvirt-network.ts).
      expect(kept).toContain('federation-' + PORT_A.portId)
      const ports = portsInMetadata(kept)
      expect(ports.get(PORT_A.macAddress)?.filterXml).toBe(nwfilterXml(PORT_A))
      expect(ports.get(PORT_A.macAddress)?.filterXml).toContain(`<tcp srcipaddr='192.0.2.0' srcipmask='24' dstportstart='22' dstportend='22'/>`)
      expect(ports.get(PORT_B.macAddress)?.filterXml).toBe('')
      expect(kept).toContain(`<filterref filter='federation-${PORT_A.portId}'>`)
    }
    expect(kept).not.toBe('null')
  })

  it('a guest without ports has no interface', async () => {
    const args = guest({ networkInfo: [] })
    await driver.spawn(args)
    expect(await driver.getInterfaces(args.uuid)).toEqual([])
  })

  it('a second spawn of the same uuid (a retried build) fails and the guest keeps its interfaces', async () => {
    const args = guest()
    await driver.spawn(args)
    await expect(driver.spawn({ ...args, networkInfo: [PORT_C] })).rejects.toBeInstanceOf(ConflictError)
    expect(await wiring(driver, args.uuid)).toEqual(BOTH)
  })

  it.each([
    ['a soft reboot', (d: ComputeDriver, u: string) => d.reboot(u, false)],
    ['a hard reboot', (d: ComputeDriver, u: string) => d.reboot(u, true)],
    ['power off and on', async (d: ComputeDriver, u: string) => (await d.powerOff(u), d.powerOn(u))],
    ['suspend and resume', async (d: ComputeDriver, u: string) => (await d.suspend(u), d.resume(u))],
    ['rescue and unrescue', async (d: ComputeDriver, u: string) => (await d.rescue(u, {}), d.unrescue(u))],
  ])('keeps the interfaces through %s', async (_what, op) => {
    const args = guest()
    await driver.spawn(args)
    await op(driver, args.uuid)
    expect(await wiring(driver, args.uuid)).toEqual(BOTH)
    expect((await driver.getInfo(args.uuid)).powerState).toBe(POWER_STATES.RUNNING)
  })

  it('keeps the interfaces through a live migration to another host', async () => {
    const args = guest()
    await driver.spawn(args)
    const other = await impl.make()
    await other.init()
    try {
      await other.migrationTarget(await driver.migrationSource(args.uuid))
      expect(await wiring(other, args.uuid)).toEqual(BOTH)
    } finally {
      await other.close()
    }
  })

  it.each(['running', 'shutoff'] as const)('attaches and detaches a port of a %s guest, idempotently, leaving its state', async (state) => {
    const args = guest()
    await driver.spawn(args)
    if (state === 'shutoff') await driver.powerOff(args.uuid)
    const power = (await driver.getInfo(args.uuid)).powerState
    await driver.attachInterface(args.uuid, PORT_C)
    await driver.attachInterface(args.uuid, PORT_C)
    expect(await wiring(driver, args.uuid)).toEqual([...BOTH, [PORT_C.portId, PORT_C.macAddress, PORT_C.bridge]])
    expect((await driver.getInfo(args.uuid)).powerState).toBe(power)
    await driver.detachInterface(args.uuid, PORT_A.portId)
    await driver.detachInterface(args.uuid, PORT_A.portId)
    expect(await wiring(driver, args.uuid)).toEqual([BOTH[1], [PORT_C.portId, PORT_C.macAddress, PORT_C.bridge]])
    expect((await driver.getInfo(args.uuid)).powerState).toBe(power)
    // What was attached survives a reboot (it is in the definition, not only in the running guest).
    await driver.reboot(args.uuid, true)
    expect((await driver.getInterfaces(args.uuid)).map((i) => i.portId)).toEqual([PORT_B.portId, PORT_C.portId])
  })

  it('refuses to change the interfaces of a paused guest, or to attach a MAC it has, and changes nothing', async () => {
    const args = guest()
    await driver.spawn(args)
    await expect(driver.attachInterface(args.uuid, { ...PORT_C, macAddress: PORT_A.macAddress })).rejects.toBeInstanceOf(ConflictError)
    await driver.pause(args.uuid)
    await expect(driver.attachInterface(args.uuid, PORT_C)).rejects.toBeInstanceOf(ConflictError)
    await expect(driver.detachInterface(args.uuid, PORT_A.portId)).rejects.toBeInstanceOf(ConflictError)
    expect(await wiring(driver, args.uuid)).toEqual(BOTH)
    expect((await driver.getInfo(args.uuid)).powerState).toBe(POWER_STATES.PAUSED)
  })

  it('unknown guest: interfaces, attach and detach reject with InstanceNotFoundError', async () => {
    const uuid = randomUUID()
    await expect(driver.getInterfaces(uuid)).rejects.toBeInstanceOf(InstanceNotFoundError)
    await expect(driver.attachInterface(uuid, PORT_C)).rejects.toBeInstanceOf(InstanceNotFoundError)
    await expect(driver.detachInterface(uuid, PORT_C.portId)).rejects.toBeInstanceOf(InstanceNotFoundError)
  })

  it('refuses a spawn naming one port twice, creating nothing', async () => {
    const args = guest({ networkInfo: [PORT_A, PORT_A] })
    await expect(driver.spawn(args)).rejects.toBeInstanceOf(InvalidError)
    expect(await driver.listInstances()).toEqual([])
  })
})
