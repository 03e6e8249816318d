import { join } from 'node:path'
import { InvalidError } from '../../../shared/errors.js'
import type { ComputeDriver } from './driver.js'
import { FakeDriver } from './fake-driver.js'
import { writeTestHostXml } from './host-xml.js'
import { loadLibvirt } from './libvirt-binding.js'

/** The drivers a compute host can run, by config name. */
export const DRIVER_KINDS = ['libvirt', 'fake'] as const
/** One of {@link DRIVER_KINDS}. */
export type DriverKind = (typeof DRIVER_KINDS)[number]

/** One compute host's driver configuration. */
export interface CreateDriverArgs {
  readonly kind: DriverKind
  /**
   * libvirt only. Omitted: a libvirt test-driver host is simulated, its `<node>` file written to
   * `<stateDir>/libvirt-host.xml` with `vcpus` and `memoryMb`. Given (`qemu:///system`, or a
   * `test:///` file of your own): the hypervisor reports its own CPUs and memory.
   */
  readonly uri?: string
  /** Host CPUs (fake, and a simulated libvirt host). */
  readonly vcpus: number
  /** Host memory in MiB (fake, and a simulated libvirt host). */
  readonly memoryMb: number
  /** Host local disk in GiB, reported by both drivers (libvirt's test driver knows no disks). */
  readonly diskGb: number
  /** A directory of this host's own: host file, suspend images, guest disks. */
  readonly stateDir: string
}

/**
 * Builds the driver a compute host is configured with. The driver is not connected yet: the caller
 * calls `init()`, as for any {@link ComputeDriver}.
 *
 * The libvirt driver module is imported only when asked for, so a machine without libvirt0 can run
 * the fake driver; asking for libvirt there fails with a message that says what to install.
 *
 * @example
 *   const driver = await createDriver({ kind: 'libvirt', vcpus: 16, memoryMb: 65536, diskGb: 1000, stateDir })
 *   await driver.init()
 */
export async function createDriver(args: CreateDriverArgs): Promise<ComputeDriver> {
  if (args.kind === 'fake') {
    return new FakeDriver({ resources: { vcpus: args.vcpus, memoryMb: args.memoryMb, localGb: args.diskGb } })
  }
  if (args.kind !== 'libvirt') throw new InvalidError(`unknown compute driver ${JSON.stringify(args.kind)}`)
  const reason = await libvirtUnavailableReason()
  if (reason !== undefined) {
    throw new InvalidError(
      `compute driver 'libvirt' needs libvirt's client library (Debian: apt-get install libvirt0): ${reason}`,
    )
  }
  const { LibvirtDriver } = await import('./libvirt-driver.js')
  const uri =
    args.uri ??
    (await writeTestHostXml({ path: join(args.stateDir, 'libvirt-host.xml'), vcpus: args.vcpus, memoryMb: args.memoryMb }))
  return new LibvirtDriver({
    uri,
    diskGb: args.diskGb,
    instancesPath: instancesPathOf(args.stateDir),
    saveDir: join(args.stateDir, 'save'),
  })
}

/**
 * The instances directory of a host with state directory `stateDir`: guest disks, and the image
 * cache (`_base/`) compute creates them from.
 */
export function instancesPathOf(stateDir: string): string {
  return join(stateDir, 'instances')
}

/**
 * `true` when the libvirt binding loads, i.e. `@unraid/libvirt` is installed and its native module
 * finds libvirt0. Loading is attempted once per process.
 */
export async function libvirtAvailable(): Promise<boolean> {
  return (await libvirtUnavailableReason()) === undefined
}

let probe: Promise<string | undefined> | undefined

/**
 * Why the libvirt driver cannot run here (the binding is not installed, or libvirt0 is missing),
 * or `undefined` when it can. Probed once per process.
 */
export function libvirtUnavailableReason(): Promise<string | undefined> {
  probe ??= (async () => {
    try {
      const { Hypervisor } = await loadLibvirt()
      // The package loads its native module lazily, in the constructor; opening nothing.
      new Hypervisor({ uri: 'test:///default' })
      return undefined
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') {
        return 'the optional package @unraid/libvirt is not installed (it builds only where libvirt-dev and pkg-config are)'
      }
      return err instanceof Error ? err.message : String(err)
    }
  })()
  return probe
}
