import { ConflictError, InvalidError } from '../../../shared/errors.js'
import { ConsoleUnavailableError, InstanceNotFoundError, lastLines, POWER_STATES, UUID, validateSpawnArgs } from './driver.js'
import type { ComputeDriver, ConsoleAddress, ConsoleKind, GuestMigration, HostResources, InstanceInfo, PowerState, RescueArgs, SpawnArgs } from './driver.js'
import type { PortInfo } from '../../../shared/network/network-info.js'
import type { FilterRule, GuestInterface } from './guest-network.js'
import { filterNameOf, filterRulesOf, tapNameOf, validateNetworkInfo } from './guest-network.js'

/** What a {@link FakeDriver} host has. Only the three capacities are required. */
export interface FakeDriverArgs {
  readonly resources: {
    readonly vcpus: number
    readonly memoryMb: number
    readonly localGb: number
    readonly cpuArch?: string
    readonly cpuModel?: string
  }
}

/** The guest states the power operations distinguish (the table in driver.ts). */
type GuestState = 'running' | 'paused' | 'shutoff' | 'suspended'

/** A suspended guest is off as far as the hypervisor can tell: see the table in driver.ts. */
const REPORTED: Readonly<Record<GuestState, PowerState>> = {
  running: POWER_STATES.RUNNING,
  paused: POWER_STATES.PAUSED,
  shutoff: POWER_STATES.SHUTDOWN,
  suspended: POWER_STATES.SHUTDOWN,
}

interface FakeGuest {
  state: GuestState
  rescued: boolean
  /** What tests write to the guest's "serial console". */
  console: string
  /** Where its consoles "listen": a recorded address (a VNC one from spawn on; tests set others). */
  readonly consoles: Partial<Record<ConsoleKind, ConsoleAddress>>
  readonly name: string
  readonly memoryMb: number
  readonly vcpus: number
  /** Its ports in order, as spawned or attached. */
  ports: PortInfo[]
  /** The config drive attached at spawn (its ISO's path), as a cdrom would be. */
  readonly configDrivePath?: string
}

/** What the fake records of a guest's network: its interfaces and each filtered port's rules. */
export interface FakeGuestNetwork {
  readonly interfaces: readonly GuestInterface[]
  /** The rendered packet filter of each port with port security, by port id. */
  readonly filters: ReadonlyMap<string, readonly FilterRule[]>
}

function interfaceOf(p: PortInfo): GuestInterface {
  return {
    portId: p.portId,
    macAddress: p.macAddress.toLowerCase(),
    bridge: p.bridge,
    mtu: p.mtu,
    device: tapNameOf(p.portId),
    filter: p.portSecurityEnabled ? filterNameOf(p.portId) : null,
  }
}

/**
 * An in-memory hypervisor, after Nova's `fake.FakeDriver`: guests are records, power operations
 * change their state by the same rules as the libvirt driver (the table in driver.ts), so
 * functional tests exercise the real state machine without libvirt.
 *
 * Every operation completes before its promise settles and never awaits midway, so concurrent
 * operations on one guest apply one after the other.
 *
 * @example
 *   const driver = new FakeDriver({ resources: { vcpus: 16, memoryMb: 65536, localGb: 1000 } })
 *   await driver.init()
 */
export class FakeDriver implements ComputeDriver {
  readonly name = 'fake'
  readonly #resources: HostResources
  readonly #guests = new Map<string, FakeGuest>()
  #open = false
  /** The next recorded VNC port (a hypervisor hands out 5900, 5901, ... as guests start). */
  #nextVncPort = 5900

  constructor(args: FakeDriverArgs) {
    const { vcpus, memoryMb, localGb } = args.resources
    for (const [key, value] of Object.entries({ vcpus, memoryMb, localGb })) {
      if (!Number.isInteger(value) || value < 0) throw new InvalidError(`fake driver: ${key} must be a whole number >= 0`)
    }
    this.#resources = Object.freeze({
      vcpus,
      memoryMb,
      localGb,
      hypervisorType: 'fake',
      hypervisorVersion: 1000,
      cpuArch: args.resources.cpuArch ?? 'x86_64',
      cpuModel: args.resources.cpuModel ?? 'fake',
    })
  }

  init(): Promise<void> {
    this.#open = true
    return Promise.resolve()
  }

  getHostResources(): Promise<HostResources> {
    return this.#run(() => this.#resources)
  }

  spawn(args: SpawnArgs): Promise<void> {
    return this.#run(() => {
      validateSpawnArgs(args)
      const uuid = args.uuid.toLowerCase()
      if (this.#guests.has(uuid)) throw new ConflictError(`instance ${uuid} already exists on this hypervisor`, { uuid })
      this.#guests.set(uuid, {
        state: 'running',
        rescued: false,
        console: '',
        consoles: this.#vnc(),
        name: args.name,
        memoryMb: args.memoryMb,
        vcpus: args.vcpus,
        ports: [...(args.networkInfo ?? [])],
        ...(args.configDrivePath === undefined ? {} : { configDrivePath: args.configDrivePath }),
      })
    })
  }

  getInterfaces(uuid: string): Promise<GuestInterface[]> {
    return this.#run(() => this.#guest(uuid).ports.map(interfaceOf))
  }

  attachInterface(uuid: string, port: PortInfo): Promise<void> {
    return this.#run(() => {
      const guest = this.#guest(uuid)
      if (guest.ports.some((p) => p.portId === port.portId)) return
      if (guest.state === 'paused' || guest.state === 'suspended') {
        throw new ConflictError(`cannot attach an interface to instance ${uuid.toLowerCase()} while it is ${guest.state}`, { uuid: uuid.toLowerCase(), state: guest.state })
      }
      if (guest.ports.some((p) => p.macAddress.toLowerCase() === port.macAddress.toLowerCase())) {
        throw new ConflictError(`instance ${uuid.toLowerCase()} already has an interface with MAC address ${port.macAddress}`, { uuid: uuid.toLowerCase() })
      }
      validateNetworkInfo([...guest.ports, port])
      guest.ports.push(port)
    })
  }

  detachInterface(uuid: string, portId: string): Promise<void> {
    return this.#run(() => {
      const guest = this.#guest(uuid)
      if (!guest.ports.some((p) => p.portId === portId)) return
      if (guest.state === 'paused' || guest.state === 'suspended') {
        throw new ConflictError(`cannot detach an interface from instance ${uuid.toLowerCase()} while it is ${guest.state}`, { uuid: uuid.toLowerCase(), state: guest.state })
      }
      guest.ports = guest.ports.filter((p) => p.portId !== portId)
    })
  }

  /** Tests: the guest's interfaces and the packet filter rendered for each port with port security. */
  networkOf(uuid: string): FakeGuestNetwork {
    const ports = this.#guest(uuid).ports
    return {
      interfaces: ports.map(interfaceOf),
      filters: new Map(ports.filter((p) => p.portSecurityEnabled).map((p) => [p.portId, filterRulesOf(p)])),
    }
  }

  destroy(uuid: string): Promise<void> {
    return this.#run(() => {
      this.#guests.delete(uuid.toLowerCase())
    })
  }

  powerOff(uuid: string): Promise<void> {
    return this.#transition(uuid, 'power off', { running: 'shutoff', paused: 'shutoff', suspended: 'shutoff' }, 'shutoff')
  }

  powerOn(uuid: string): Promise<void> {
    return this.#transition(uuid, 'power on', { shutoff: 'running', suspended: 'running' }, 'running')
  }

  reboot(uuid: string, _hard: boolean): Promise<void> {
    // Soft or hard, every state ends running: a soft reboot of a guest that is not running
    // falls back to a hard one.
    return this.#transition(uuid, 'reboot', { running: 'running', paused: 'running', shutoff: 'running', suspended: 'running' }, undefined)
  }

  pause(uuid: string): Promise<void> {
    return this.#transition(uuid, 'pause', { running: 'paused' }, 'paused')
  }

  unpause(uuid: string): Promise<void> {
    return this.#transition(uuid, 'unpause', { paused: 'running' }, 'running')
  }

  suspend(uuid: string): Promise<void> {
    return this.#transition(uuid, 'suspend', { running: 'suspended' }, 'suspended')
  }

  resume(uuid: string): Promise<void> {
    return this.#transition(uuid, 'resume', { suspended: 'running' }, 'running')
  }

  getInfo(uuid: string): Promise<InstanceInfo> {
    return this.#run(() => {
      const guest = this.#guest(uuid)
      return { powerState: REPORTED[guest.state], memoryMb: guest.memoryMb, vcpus: guest.vcpus, rescued: guest.rescued }
    })
  }

  rescue(uuid: string, _args: RescueArgs): Promise<void> {
    return this.#run(() => {
      const guest = this.#guest(uuid)
      if (guest.rescued) return
      if (guest.state === 'paused' || guest.state === 'suspended') {
        throw new ConflictError(`cannot rescue instance ${uuid.toLowerCase()} while it is ${guest.state}`, { uuid: uuid.toLowerCase(), state: guest.state })
      }
      guest.rescued = true
      guest.state = 'running'
    })
  }

  unrescue(uuid: string): Promise<void> {
    return this.#run(() => {
      const guest = this.#guest(uuid)
      if (!guest.rescued) return
      guest.rescued = false
      guest.state = 'running'
    })
  }

  getConsoleOutput(uuid: string, maxLines?: number): Promise<string> {
    return this.#run(() => lastLines(this.#guest(uuid).console, maxLines))
  }

  getConsole(uuid: string, kind: ConsoleKind): Promise<ConsoleAddress> {
    return this.#run(() => {
      const found = this.#guest(uuid).consoles[kind]
      if (found === undefined) throw new ConsoleUnavailableError(kind)
      return found
    })
  }

  /** Tests: where the guest's `kind` console listens (a stand-in display server, say). */
  setConsole(uuid: string, kind: ConsoleKind, address: ConsoleAddress): void {
    this.#guest(uuid).consoles[kind] = { host: address.host, port: address.port }
  }

  #vnc(): Partial<Record<ConsoleKind, ConsoleAddress>> {
    const port = this.#nextVncPort
    this.#nextVncPort = port >= 65535 ? 5900 : port + 1
    return { vnc: { host: '127.0.0.1', port } }
  }

  /** Tests: the config drive the guest was spawned with (undefined: none, or no such guest). */
  configDriveOf(uuid: string): string | undefined {
    return this.#guests.get(uuid.toLowerCase())?.configDrivePath
  }

  /** Tests: appends `text` to the guest's console log. */
  writeConsole(uuid: string, text: string): void {
    this.#guest(uuid).console += text
  }

  listInstances(): Promise<string[]> {
    return this.#run(() => [...this.#guests.keys()])
  }

  migrationSource(uuid: string): Promise<GuestMigration> {
    return this.#run(() => {
      const g = this.#guest(uuid)
      if (g.state !== 'running' && g.state !== 'paused') {
        throw new ConflictError(`cannot live-migrate instance ${uuid.toLowerCase()} while it is ${g.state}`, { uuid: uuid.toLowerCase(), state: g.state })
      }
      return { uuid: uuid.toLowerCase(), driver: this.name, definition: JSON.stringify({ name: g.name, memoryMb: g.memoryMb, vcpus: g.vcpus, ports: g.ports }), state: g.state }
    })
  }

  migrationTarget(m: GuestMigration): Promise<void> {
    return this.#run(() => {
      const uuid = String(m.uuid).toLowerCase()
      if (m.driver !== this.name || !UUID.test(uuid)) throw new InvalidError(`cannot take a ${String(m.driver)} guest ${uuid}`)
      if (this.#guests.has(uuid)) return
      let def: { name?: unknown; memoryMb?: unknown; vcpus?: unknown; ports?: unknown }
      try {
        def = JSON.parse(m.definition) as typeof def
      } catch {
        throw new InvalidError('unreadable guest definition')
      }
      const ports = Array.isArray(def.ports) ? (def.ports as PortInfo[]) : []
      validateSpawnArgs({ uuid, name: String(def.name), memoryMb: Number(def.memoryMb), vcpus: Number(def.vcpus), rootGb: 0, networkInfo: ports })
      this.#guests.set(uuid, {
        state: m.state === 'paused' ? 'paused' : 'running',
        rescued: false,
        console: '',
        consoles: this.#vnc(),
        name: String(def.name),
        memoryMb: Number(def.memoryMb),
        vcpus: Number(def.vcpus),
        ports,
      })
    })
  }

  close(): Promise<void> {
    this.#open = false
    return Promise.resolve()
  }

  /**
   * Moves the guest along `moves`; staying in `target` is a no-op; any other state is a conflict.
   */
  #transition(
    uuid: string,
    operation: string,
    moves: Partial<Record<GuestState, GuestState>>,
    target: GuestState | undefined,
  ): Promise<void> {
    return this.#run(() => {
      const guest = this.#guest(uuid)
      const next = moves[guest.state]
      if (next !== undefined) guest.state = next
      else if (guest.state !== target) {
        throw new ConflictError(`cannot ${operation} instance ${uuid.toLowerCase()} while it is ${guest.state}`, {
          uuid: uuid.toLowerCase(),
          state: guest.state,
        })
      }
    })
  }

  #guest(uuid: string): FakeGuest {
    const guest = this.#guests.get(uuid.toLowerCase())
    if (guest === undefined) throw new InstanceNotFoundError(uuid)
    return guest
  }

  /** Runs `fn` as an async operation: a closed driver, like a closed connection, refuses work. */
  #run<T>(fn: () => T): Promise<T> {
    try {
      if (!this.#open) throw new Error('fake driver is not connected: call init() first')
      return Promise.resolve(fn())
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }
}

