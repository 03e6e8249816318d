import { isAbsolute } from 'node:path'
import { InvalidError } from '../../../shared/errors.js'
import type { NetworkInfo, PortInfo } from '../../../shared/network/network-info.js'
import type { GuestInterface } from './guest-network.js'
import { validateNetworkInfo } from './guest-network.js'
/**
 * The narrow interface between nova-compute and a hypervisor, after Nova's `ComputeDriver`.
 *
 * Contract (test/contract/compute-driver.contract.test.ts and, for interfaces,
 * compute-driver-network.contract.test.ts run it for every driver):
 * - instances are addressed by our UUID; the driver gives the guest that UUID;
 * - `spawn` of a UUID that already exists fails; `destroy` of an unknown UUID succeeds (idempotent:
 *   compute retries deletes after crashes);
 * - power operations on an unknown UUID reject with `InstanceNotFoundError`;
 * - `getInfo` reports the power state the guest really has (Nova's numbers, {@link POWER_STATES});
 * - `getHostResources` reports totals, never usage: usage comes from claims in the cell DB.
 * A driver imports no compute manager, RPC or database code, and no other driver.
 *
 * Power operations follow one rule, so that compute may retry any of them after a crash: an
 * operation whose target state already holds is a no-op; one with no sensible path from the current
 * state rejects with `ConflictError` (shared/errors.ts) and changes nothing. Per guest state
 * (a suspended guest is off with its memory saved to disk):
 *
 * | operation   | running        | paused        | shut off      | suspended                  |
 * |-------------|----------------|---------------|---------------|----------------------------|
 * | pause       | paused         | no-op         | conflict      | conflict                   |
 * | unpause     | no-op          | running       | conflict      | conflict                   |
 * | suspend     | suspended      | conflict      | conflict      | no-op                      |
 * | resume      | no-op          | conflict      | conflict      | running (memory restored)  |
 * | powerOff    | shut off       | shut off      | no-op         | shut off (saved memory dropped) |
 * | powerOn     | no-op          | conflict      | running       | running (memory restored)  |
 * | reboot      | running        | running       | running       | running (saved memory dropped) |
 * | destroy     | gone           | gone          | gone          | gone                       |
 *
 * A soft reboot shuts a running guest down gracefully;
 * from any other state, or when the guest ignores the request, it falls back to a hard reboot, as
 * Nova's libvirt driver does.
 *
 * `getInfo` reports a suspended guest as {@link POWER_STATES}.SHUTDOWN, as Nova's libvirt driver
 * does for a saved domain (libvirt says SHUTOFF): the instance's vm_state, kept by the conductor,
 * is what says "suspended". {@link POWER_STATES}.SUSPENDED means a guest that suspended itself
 * (ACPI S3, libvirt's PMSUSPENDED).
 */
export interface ComputeDriver {
  /** `libvirt` or `fake`. */
  readonly name: string
  /** Connects to the hypervisor. Called once before anything else. */
  init(): Promise<void>
  /** The host's inventory. */
  getHostResources(): Promise<HostResources>
  /**
   * Creates and starts the guest. Cleans up what it created when it fails. Rejects with
   * `ConflictError` when the UUID exists already, `InvalidError` when the arguments are malformed.
   */
  spawn(args: SpawnArgs): Promise<void>
  /** Stops and removes the guest and its definition. Idempotent. */
  destroy(uuid: string): Promise<void>
  /** Graceful shutdown (ACPI), falling back to a hard power off. */
  powerOff(uuid: string): Promise<void>
  /** Starts a stopped guest. */
  powerOn(uuid: string): Promise<void>
  /** Soft reboot = shutdown then start; hard = destroy then start. */
  reboot(uuid: string, hard: boolean): Promise<void>
  /** Freezes the guest in memory (Nova's pause). */
  pause(uuid: string): Promise<void>
  /** Lets a paused guest run again. */
  unpause(uuid: string): Promise<void>
  /** Saves guest memory to disk and stops it (Nova's suspend). */
  suspend(uuid: string): Promise<void>
  /** Restores a suspended guest. */
  resume(uuid: string): Promise<void>
  /**
   * Nova's rescue: the guest is restarted from a rescue disk, its own disk attached second, and
   * runs (from running, shut off or crashed; paused or suspended: conflict). Rescuing a rescued
   * guest is a no-op. `InstanceNotFoundError` for an unknown UUID.
   */
  rescue(uuid: string, args: RescueArgs): Promise<void>
  /** Restarts a rescued guest from its own disk, as it was defined before; not rescued: no-op. */
  unrescue(uuid: string): Promise<void>
  /**
   * What the guest wrote to its serial console (the log file under the instance directory), at
   * most the last `maxLines` lines (all when undefined); empty when there is no log.
   */
  getConsoleOutput(uuid: string, maxLines?: number): Promise<string>
  /**
   * Where the guest's graphical (`vnc`, `spice`) or serial console listens, for the console proxy
   * to connect to (Nova's `get_vnc_console`): the address and port the guest's definition declares
   * (libvirt: the domain XML's `<graphics>` element). Never a password. `InstanceNotFoundError`
   * for an unknown UUID; {@link ConsoleUnavailableError} when the guest has no such console.
   */
  getConsole(uuid: string, kind: ConsoleKind): Promise<ConsoleAddress>
  /** What the hypervisor says about the guest now. */
  getInfo(uuid: string): Promise<InstanceInfo>
  /** UUIDs of every guest the hypervisor knows, running or not. */
  listInstances(): Promise<string[]>
  /**
   * Live migration, source side (libvirt's `migrateToURI` split in two, so that the hosts need no
   * connection to each other: define on the target, then undefine on the source): the guest's
   * definition as the hypervisor holds it (libvirt: the domain XML) and its state. The guest keeps
   * running here until compute destroys it once the target runs it. Rejects with
   * `InstanceNotFoundError` for an unknown guest, `ConflictError` unless it is running or paused.
   */
  migrationSource(uuid: string): Promise<GuestMigration>
  /**
   * Live migration, target side: defines the guest from a {@link GuestMigration} of a driver of
   * the same kind and starts it in the state it had (running or paused). Idempotent: a guest of
   * that uuid already here is left as it is. Cleans up what it created when it fails; a definition
   * it cannot read is `InvalidError`.
   */
  migrationTarget(migration: GuestMigration): Promise<void>
  /**
   * The guest's interfaces as the hypervisor holds them (libvirt: the live definition), in order.
   * `InstanceNotFoundError` for an unknown UUID.
   */
  getInterfaces(uuid: string): Promise<GuestInterface[]>
  /**
   * Adds a port to the guest (Nova's `attach_interface`, for `os-interface`), with its packet
   * filter. Idempotent: a port the guest has already is a no-op. `InstanceNotFoundError` for an
   * unknown UUID, `ConflictError` when the guest is paused or suspended, or when its MAC is taken.
   * The libvirt driver redefines the guest (the binding has no device hot-plug): a running guest
   * is restarted to take it.
   */
  attachInterface(uuid: string, port: PortInfo): Promise<void>
  /** Removes a port (and its packet filter) from the guest; a port it does not have is a no-op. As attach. */
  detachInterface(uuid: string, portId: string): Promise<void>
  /** Releases the connection. Idempotent. */
  close(): Promise<void>
}

/** A running guest's definition, carried from the source of a live migration to its target. */
export interface GuestMigration {
  readonly uuid: string
  /** The driver that wrote it (`fake`, `libvirt`): a target refuses another kind's. */
  readonly driver: string
  /** Opaque to compute: libvirt's domain XML, or the fake driver's JSON. */
  readonly definition: string
  readonly state: 'running' | 'paused'
}

/** What to create. */
export interface SpawnArgs {
  readonly uuid: string
  readonly name: string
  readonly memoryMb: number
  readonly vcpus: number
  readonly rootGb: number
  readonly imageRef?: string
  /**
   * The guest's root disk, prepared by compute's image cache (`<instancesPath>/<uuid>/disk`, an
   * overlay or copy of the cached image). Drivers whose hypervisor has disks use it as the disk
   * source and leave the file alone on failure and on destroy (compute owns it); the others
   * (libvirt's test driver, the fake) ignore it. Absent: the driver makes a blank disk of `rootGb`
   * where it has disks.
   */
  readonly diskPath?: string
  /** The format of `diskPath` (default `raw`). */
  readonly diskFormat?: DiskFormat
  /**
   * The guest's ports, in order (the first is eth0), as the build spec carried them: one interface
   * each on its bridge with its MAC, and with port security a packet filter from its security
   * group rules. Absent or empty: no interface.
   */
  readonly networkInfo?: NetworkInfo
  /**
   * The instance's config drive, an ISO 9660 image labelled `config-2` that compute built
   * (`<instance dir>/disk.config`): attached read-only as a cdrom. Compute owns the file (the
   * driver leaves it alone). Absent: no config drive.
   */
  readonly configDrivePath?: string
}

/** The rescue disk (compute prepares it from the rescue image, or the instance's own image). */
export interface RescueArgs {
  /** `<instancesPath>/<uuid>/disk.rescue`; absent: a blank rescue disk where the driver has disks. */
  readonly diskPath?: string
  readonly diskFormat?: DiskFormat
  /** The image it was made from (kept in the domain's metadata). */
  readonly imageRef?: string
}

/** The last `maxLines` lines of `text` (all of it when undefined or negative). */
export function lastLines(text: string, maxLines: number | undefined): string {
  if (maxLines === undefined || maxLines < 0) return text
  if (maxLines === 0) return ''
  // As Nova's compute manager (_tail_log): the text after a trailing newline counts as a line, so
  // the answer split on newlines has exactly `maxLines` parts (Tempest's test_get_console_output).
  return text.split('\n').slice(-maxLines).join('\n')
}

/**
 * The serial console of a guest of libvirt's test driver, which boots no OS and so writes none:
 * a fixed boot log, as Nova's fake driver answers a fixed text.
 */
export const TEST_GUEST_CONSOLE = [
  'federation test guest: no operating system runs on libvirt\'s test driver',
  'Booting from Hard Disk...',
  'Starting kernel ...',
  'Initializing cgroup subsys cpuset',
  'Starting network...',
  'login: ',
  '',
].join('\n')

/** The consoles a guest may offer (Nova's remote console protocols this federation serves). */
export const CONSOLE_KINDS = ['vnc', 'spice', 'serial'] as const
/** One of {@link CONSOLE_KINDS}. */
export type ConsoleKind = (typeof CONSOLE_KINDS)[number]

/** Where a guest's console listens, as the console proxy dials it. */
export interface ConsoleAddress {
  readonly host: string
  readonly port: number
}

/** The guest has no console of that kind (Nova's `ConsoleTypeUnavailable`, a 400 at the API). */
export class ConsoleUnavailableError extends InvalidError {
  constructor(kind: string) {
    super(`Unavailable console type ${kind}.`)
    this.name = 'ConsoleUnavailableError'
  }
}

/** Formats of the disks compute prepares for guests. */
export const DISK_FORMATS = ['raw', 'qcow2'] as const
/** One of {@link DISK_FORMATS}. */
export type DiskFormat = (typeof DISK_FORMATS)[number]

/** Inventory of one host. */
export interface HostResources {
  readonly vcpus: number
  readonly memoryMb: number
  readonly localGb: number
  readonly hypervisorType: string
  readonly hypervisorVersion: number
  readonly cpuArch: string
  readonly cpuModel: string
}

/** Nova's power states (nova/compute/power_state.py). */
export const POWER_STATES = {
  NOSTATE: 0,
  RUNNING: 1,
  PAUSED: 3,
  SHUTDOWN: 4,
  CRASHED: 6,
  SUSPENDED: 7,
} as const
/** One of the values of {@link POWER_STATES}. */
export type PowerState = (typeof POWER_STATES)[keyof typeof POWER_STATES]

/** What the hypervisor says about one guest. */
export interface InstanceInfo {
  readonly powerState: PowerState
  readonly memoryMb: number
  readonly vcpus: number
  /** The guest runs from its rescue disk. */
  readonly rescued: boolean
}

/** The guest does not exist on this host. */
export class InstanceNotFoundError extends Error {
  readonly uuid: string
  constructor(uuid: string, cause?: unknown) {
    super(`instance ${uuid} not found on this hypervisor`, cause === undefined ? undefined : { cause })
    this.name = 'InstanceNotFoundError'
    this.uuid = uuid
  }
}

/** Our instance UUIDs. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function validateSpawnArgs(args: SpawnArgs): void {
  if (!UUID.test(args.uuid)) throw new InvalidError(`invalid instance uuid ${JSON.stringify(args.uuid)}`)
  if (!Number.isInteger(args.memoryMb) || args.memoryMb < 1) throw new InvalidError('memoryMb must be a whole number >= 1')
  if (!Number.isInteger(args.vcpus) || args.vcpus < 1) throw new InvalidError('vcpus must be a whole number >= 1')
  if (!Number.isInteger(args.rootGb) || args.rootGb < 0) throw new InvalidError('rootGb must be a whole number >= 0')
  if (args.diskPath !== undefined && (typeof args.diskPath !== 'string' || !isAbsolute(args.diskPath))) {
    throw new InvalidError('diskPath must be an absolute path')
  }
  if (args.configDrivePath !== undefined && (typeof args.configDrivePath !== 'string' || !isAbsolute(args.configDrivePath))) {
    throw new InvalidError('configDrivePath must be an absolute path')
  }
  if (args.diskFormat !== undefined && !(DISK_FORMATS as readonly string[]).includes(args.diskFormat)) {
    throw new InvalidError(`diskFormat must be one of ${DISK_FORMATS.join(', ')}`)
  }
  validateNetworkInfo(args.networkInfo)
}
