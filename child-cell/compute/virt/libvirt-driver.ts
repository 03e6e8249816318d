import { createHash } from 'node:crypto'
import { access, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ConflictError, InvalidError } from '../../../shared/errors.js'
import { ensurePrivateDirAsync, PRIVATE_FILE_MODE } from '../../../shared/fs/private-files.js'
import { InstanceNotFoundError, lastLines, POWER_STATES, TEST_GUEST_CONSOLE, UUID, validateSpawnArgs } from './driver.js'
import type { ComputeDriver, ConsoleAddress, ConsoleKind, DiskFormat, GuestMigration, HostResources, InstanceInfo, RescueArgs, SpawnArgs } from './driver.js'
import type { PortInfo } from '../../../shared/network/network-info.js'
import type { GuestInterface } from './guest-network.js'
import { interfacesOf } from './libvirt-network-xml.js'
import { changeInterfaces, defineFilters, defineFiltersOf, portIdsOf, renderNetwork, undefineFilters } from './libvirt-network.js'
import { consoleAddressOf, domainXml, rescueXml } from './libvirt-domain-xml.js'
import { loadLibvirt } from './libvirt-binding.js'
import type { TestDisplay } from './test-display.js'
import { startTestDisplay } from './test-display.js'
import type { GuestState } from './libvirt-support.js'
import { conflict, createBlankDisk, fileExists, fileSystemGb, ignoreNotRunning, isNotFound, normaliseArch, rethrow, TO_POWER_STATE, VIR } from './libvirt-support.js'
import type { LibvirtDomain as Domain, LibvirtHypervisor as Hypervisor } from './libvirt-binding.js'

/** How to reach the hypervisor, and where this host keeps guest files. */
export interface LibvirtDriverArgs {
  /**
   * `qemu:///system` in production; `test:///abs/path/host-N.xml` (libvirt's test driver, one
   * `<node>` file per simulated host, see host-xml.ts) in tests and the embedded federation.
   */
  readonly uri: string
  /**
   * qemu only: blank guest disks (spawns without a `diskPath`) go to `<instancesPath>/<uuid>/disk`,
   * and `destroy` removes `<instancesPath>/<uuid>`. Default `/var/lib/federation/instances`.
   */
  readonly instancesPath?: string
  /**
   * Where `suspend` writes guest memory (`<saveDir>/<uuid>.save`). Default: `<instancesPath>/save`
   * for qemu (libvirtd must be able to write there), a per-URI folder under the OS temp dir for test.
   */
  readonly saveDir?: string
  /**
   * Local disk to report, in GiB. The test driver knows no disks, so this is the only source for
   * it (default 1000); for qemu the default is the size of the file system under `instancesPath`.
   */
  readonly diskGb?: number
  /** qemu only: the domain type, `kvm` (default) or `qemu` (emulation, no /dev/kvm). */
  readonly virtType?: 'kvm' | 'qemu'
  /** How long a graceful shutdown (power off, soft reboot) may take before a hard stop. Default 60 s. */
  readonly shutdownTimeoutMs?: number
}

const DEFAULT_TEST_DISK_GB = 1000
/** libvirt's test driver answers virConnectGetVersion with 2; the binding does not expose the call. */
const TEST_HYPERVISOR_VERSION = 2

/**
 * A {@link ComputeDriver} over libvirt (`@unraid/libvirt`), after Nova's `LibvirtDriver`.
 *
 * Guests are named `instance-<uuid>` and carry our UUID. Suspend saves memory to a file of our own
 * (the binding has no managed save) and resume restores it, so the driver tells a suspended guest
 * from a stopped one by that file. Operations on one guest are serialised (Nova's instance lock),
 * so a retried spawn cannot redefine a guest that a first attempt is still starting.
 *
 * With `test:///` URIs the hypervisor type reported is `test` (libvirt says `TEST`) and guests have
 * no disk (a `diskPath` is ignored); with qemu it is `QEMU`, as Nova reports for both kvm and qemu,
 * and each guest boots from the `diskPath` compute prepared from the image (see image-cache.ts),
 * or, without one, from a sparse raw disk of `rootGb`. The driver must run on the hypervisor host,
 * as nova-compute does, since it creates those files locally. A guest's ports become bridge
 * interfaces with per-port nwfilters (libvirt-network.ts says what the binding cannot do there).
 *
 * @example
 *   const driver = new LibvirtDriver({ uri: await writeTestHostXml({ path, vcpus: 8, memoryMb: 16384 }) })
 *   await driver.init()
 */
export class LibvirtDriver implements ComputeDriver {
  readonly name = 'libvirt'
  readonly #uri: string
  readonly #isTest: boolean
  readonly #domainType: 'test' | 'kvm' | 'qemu'
  readonly #instancesPath: string
  readonly #saveDir: string
  readonly #diskGb: number | undefined
  readonly #shutdownTimeoutMs: number
  readonly #locks = new Map<string, Promise<void>>()
  #hv: Hypervisor | undefined
  /** Test driver only: the stand-in VNC display this host's guests declare (see test-display.ts). */
  #display: TestDisplay | undefined

  constructor(args: LibvirtDriverArgs) {
    const scheme = /^([a-z0-9]+)(\+[a-z0-9]+)?:/i.exec(args.uri)?.[1]?.toLowerCase()
    if (scheme !== 'test' && scheme !== 'qemu') {
      throw new InvalidError(`libvirt driver supports test:// and qemu:// URIs, not ${JSON.stringify(args.uri)}`)
    }
    if (args.diskGb !== undefined && (!Number.isInteger(args.diskGb) || args.diskGb < 0)) {
      throw new InvalidError('libvirt driver: diskGb must be a whole number >= 0')
    }
    this.#uri = args.uri
    this.#isTest = scheme === 'test'
    this.#domainType = this.#isTest ? 'test' : (args.virtType ?? 'kvm')
    this.#instancesPath = args.instancesPath ?? '/var/lib/federation/instances'
    const uriKey = createHash('sha256').update(args.uri).digest('hex').slice(0, 16)
    this.#saveDir =
      args.saveDir ??
      (this.#isTest ? join(tmpdir(), 'federation-libvirt-save', uriKey) : join(this.#instancesPath, 'save'))
    this.#diskGb = args.diskGb ?? (this.#isTest ? DEFAULT_TEST_DISK_GB : undefined)
    this.#shutdownTimeoutMs = args.shutdownTimeoutMs ?? 60_000
  }

  async init(): Promise<void> {
    if (this.#hv !== undefined) return
    // Saved guest memory and guest disks: private to this user whatever the umask.
    await ensurePrivateDirAsync(this.#saveDir)
    if (!this.#isTest) await ensurePrivateDirAsync(this.#instancesPath)
    const { Hypervisor } = await loadLibvirt()
    const hv = new Hypervisor({ uri: this.#uri })
    await hv.connectOpen()
    this.#hv = hv
    if (this.#isTest) this.#display = await startTestDisplay()
  }

  async getHostResources(): Promise<HostResources> {
    const node = await this.#hypervisor().nodeGetInfo()
    return {
      vcpus: node.cpus,
      memoryMb: Math.floor(node.memory / 1024),
      localGb: this.#diskGb ?? (await fileSystemGb(this.#instancesPath)),
      hypervisorType: this.#isTest ? 'test' : 'QEMU',
      // The binding exposes no virConnectGetVersion; 0 says "unknown" for qemu.
      hypervisorVersion: this.#isTest ? TEST_HYPERVISOR_VERSION : 0,
      cpuArch: normaliseArch(node.model),
      cpuModel: node.model,
    }
  }

  async spawn(args: SpawnArgs): Promise<void> {
    validateSpawnArgs(args)
    const uuid = args.uuid.toLowerCase()
    return this.#exclusive(uuid, async () => {
      const hv = this.#hypervisor()
      if ((await this.#lookup(uuid)) !== undefined) {
        throw new ConflictError(`instance ${uuid} already exists on this hypervisor`, { uuid })
      }
      let disk: { path: string; format: DiskFormat } | undefined
      let created = false
      let domain: Domain | undefined
      try {
        // The serial console logs into the instance directory: it must exist before the guest starts.
        if (!this.#isTest) await ensurePrivateDirAsync(join(this.#instancesPath, uuid))
        if (!this.#isTest && args.diskPath !== undefined) disk = { path: args.diskPath, format: args.diskFormat ?? 'raw' }
        else if (!this.#isTest && args.rootGb > 0) {
          disk = { path: await createBlankDisk(join(this.#instancesPath, uuid), args.rootGb), format: 'raw' }
          created = true
        }
        const network = renderNetwork(args.networkInfo)
        await defineFilters(hv, this.#isTest, args.networkInfo ?? [])
        const display = this.#display === undefined ? {} : { vncPort: this.#display.port }
        domain = await hv.domainDefineXML(domainXml({ ...args, uuid, type: this.#domainType, disk, consoleLog: this.#consoleLog(uuid), ...display, ...(network === undefined ? {} : { network }) }))
        await hv.domainCreate(domain)
      } catch (err) {
        if (domain !== undefined) await hv.domainUndefine(domain).catch(() => undefined)
        await undefineFilters(hv, (args.networkInfo ?? []).map((p) => p.portId))
        // A disk compute prepared is compute's to clean up.
        if (created) await rm(join(this.#instancesPath, uuid), { recursive: true, force: true })
        throw err
      }
    })
  }

  destroy(uuid: string): Promise<void> {
    if (!UUID.test(uuid)) return Promise.resolve()
    const id = uuid.toLowerCase()
    return this.#exclusive(id, async () => {
      const hv = this.#hypervisor()
      const domain = await this.#lookup(id)
      if (domain !== undefined) {
        const ports = portIdsOf(await hv.domainGetXMLDesc(domain).catch(() => ''))
        if ((await hv.domainGetInfo(domain)).state !== VIR.SHUTOFF) await ignoreNotRunning(hv.domainDestroy(domain))
        await hv.domainUndefine(domain).catch((err: unknown) => {
          if (!isNotFound(err)) throw err
        })
        await undefineFilters(hv, ports)
      }
      await rm(this.#savePath(id), { force: true })
      await rm(this.#unrescuePath(id), { force: true })
      if (!this.#isTest) await rm(join(this.#instancesPath, id), { recursive: true, force: true })
    })
  }

  powerOff(uuid: string): Promise<void> {
    return this.#operate(uuid, async (domain, state) => {
      if (state === 'running') await this.#shutdown(domain)
      else if (state === 'paused' || state === 'other') await ignoreNotRunning(this.#hypervisor().domainDestroy(domain))
      else if (state === 'suspended') await rm(this.#savePath(uuid), { force: true })
    })
  }

  powerOn(uuid: string): Promise<void> {
    return this.#operate(uuid, async (domain, state) => {
      if (state === 'shutoff') await this.#hypervisor().domainCreate(domain)
      else if (state === 'suspended') await this.#restore(uuid)
      else if (state !== 'running') throw conflict('power on', uuid, state)
    })
  }

  reboot(uuid: string, hard: boolean): Promise<void> {
    return this.#operate(uuid, async (domain, state) => {
      const hv = this.#hypervisor()
      if (!hard && state === 'running') {
        await this.#shutdown(domain)
      } else {
        await rm(this.#savePath(uuid), { force: true })
        if (state !== 'shutoff' && state !== 'suspended') await ignoreNotRunning(hv.domainDestroy(domain))
      }
      await hv.domainCreate(domain)
    })
  }

  pause(uuid: string): Promise<void> {
    return this.#operate(uuid, async (domain, state) => {
      if (state === 'running') await this.#hypervisor().domainSuspend(domain)
      else if (state !== 'paused') throw conflict('pause', uuid, state)
    })
  }

  unpause(uuid: string): Promise<void> {
    return this.#operate(uuid, async (domain, state) => {
      if (state === 'paused') await this.#hypervisor().domainResume(domain)
      else if (state !== 'running') throw conflict('unpause', uuid, state)
    })
  }

  suspend(uuid: string): Promise<void> {
    return this.#operate(uuid, async (domain, state) => {
      if (state === 'suspended') return
      if (state !== 'running') throw conflict('suspend', uuid, state)
      const path = this.#savePath(uuid)
      try {
        await this.#hypervisor().domainSave(domain, path)
      } catch (err) {
        await rm(path, { force: true })
        throw err
      }
    })
  }

  resume(uuid: string): Promise<void> {
    return this.#operate(uuid, async (_domain, state) => {
      if (state === 'suspended') await this.#restore(uuid)
      else if (state !== 'running') throw conflict('resume', uuid, state)
    })
  }

  async getInfo(uuid: string): Promise<InstanceInfo> {
    const domain = await this.#find(uuid)
    const info = await this.#hypervisor()
      .domainGetInfo(domain)
      .catch((err: unknown) => rethrow(uuid, err))
    return {
      powerState: TO_POWER_STATE[info.state] ?? POWER_STATES.NOSTATE,
      memoryMb: Math.floor(info.maxMem / 1024),
      vcpus: info.nrVirtCpu,
      rescued: await fileExists(this.#unrescuePath(uuid.toLowerCase())),
    }
  }

  /**
   * Keeps the guest's definition aside (`<saveDir>/<uuid>.unrescue.xml`, which also says "rescued"),
   * stops the guest, redefines it with the rescue disk first and starts it. On failure the
   * original definition is restored.
   */
  rescue(uuid: string, args: RescueArgs): Promise<void> {
    return this.#operate(uuid, async (domain, state) => {
      const id = uuid.toLowerCase()
      const keep = this.#unrescuePath(id)
      if (await fileExists(keep)) return
      if (state === 'paused' || state === 'suspended') throw conflict('rescue', id, state)
      const hv = this.#hypervisor()
      const original = await hv.domainGetXMLDesc(domain)
      const disk = !this.#isTest && args.diskPath !== undefined ? { path: args.diskPath, format: args.diskFormat ?? 'raw' } : undefined
      await writeFile(keep, original, { mode: PRIVATE_FILE_MODE })
      try {
        if (state !== 'shutoff') await ignoreNotRunning(hv.domainDestroy(domain))
        const rescued = await hv.domainDefineXML(rescueXml(original, { disk, ...(args.imageRef === undefined ? {} : { imageRef: args.imageRef }) }))
        await hv.domainCreate(rescued)
      } catch (err) {
        await ignoreNotRunning(hv.domainDestroy(domain)).catch(() => undefined)
        await hv.domainDefineXML(original).catch(() => undefined)
        await rm(keep, { force: true })
        throw err
      }
    })
  }

  /** Stops the rescued guest, puts its own definition back and starts it. */
  unrescue(uuid: string): Promise<void> {
    return this.#operate(uuid, async (domain, state) => {
      const id = uuid.toLowerCase()
      const keep = this.#unrescuePath(id)
      const original = await readFile(keep, 'utf8').catch(() => undefined)
      if (original === undefined) return
      const hv = this.#hypervisor()
      if (state !== 'shutoff' && state !== 'suspended') await ignoreNotRunning(hv.domainDestroy(domain))
      await rm(this.#savePath(id), { force: true })
      await hv.domainCreate(await hv.domainDefineXML(original))
      await rm(keep, { force: true })
    })
  }

  async getConsoleOutput(uuid: string, maxLines?: number): Promise<string> {
    const id = uuid.toLowerCase()
    await this.#find(id)
    const text = await readFile(this.#consoleLog(id), 'utf8').catch((err: unknown) => {
      if ((err as { code?: unknown }).code === 'ENOENT') return this.#isTest ? TEST_GUEST_CONSOLE : ''
      throw err
    })
    return lastLines(text, maxLines)
  }

  async getConsole(uuid: string, kind: ConsoleKind): Promise<ConsoleAddress> {
    const domain = await this.#find(uuid.toLowerCase())
    return consoleAddressOf(await this.#hypervisor().domainGetXMLDesc(domain), kind)
  }

  async getInterfaces(uuid: string): Promise<GuestInterface[]> {
    const domain = await this.#find(uuid.toLowerCase())
    return interfacesOf(await this.#hypervisor().domainGetXMLDesc(domain))
  }

  attachInterface(uuid: string, port: PortInfo): Promise<void> {
    return this.#changeInterfaces(uuid, { attach: port })
  }

  detachInterface(uuid: string, portId: string): Promise<void> {
    return this.#changeInterfaces(uuid, { detach: portId })
  }

  /** See libvirt-network.ts: a rescued guest's definition is the rescue one, so it is refused. */
  #changeInterfaces(uuid: string, change: { readonly attach: PortInfo } | { readonly detach: string }): Promise<void> {
    return this.#operate(uuid, async (domain, state) => {
      const id = uuid.toLowerCase()
      if (await fileExists(this.#unrescuePath(id))) throw new ConflictError(`cannot change the interfaces of instance ${id} while it is rescued`, { uuid: id })
      await changeInterfaces({ hv: this.#hypervisor(), isTest: this.#isTest, uuid: id, domain, state }, change)
    })
  }

  async listInstances(): Promise<string[]> {
    const hv = this.#hypervisor()
    const domains = await hv.connectListAllDomains()
    // A guest destroyed between the listing and the question is simply not listed.
    const uuids = await Promise.all(
      domains.map((d) =>
        hv.domainGetUUIDString(d).catch((err: unknown) => {
          if (isNotFound(err)) return undefined
          throw err
        }),
      ),
    )
    return uuids.filter((u): u is string => u !== undefined)
  }

  async migrationSource(uuid: string): Promise<GuestMigration> {
    let out: GuestMigration | undefined
    await this.#operate(uuid, async (domain, state) => {
      if (state !== 'running' && state !== 'paused') throw conflict('live-migrate', uuid, state)
      out = { uuid: uuid.toLowerCase(), driver: this.name, definition: await this.#hypervisor().domainGetXMLDesc(domain), state }
    })
    if (out === undefined) throw new InstanceNotFoundError(uuid)
    return out
  }

  migrationTarget(m: GuestMigration): Promise<void> {
    const uuid = String(m.uuid).toLowerCase()
    if (m.driver !== this.name || !UUID.test(uuid) || typeof m.definition !== 'string' || !m.definition.includes(`<uuid>${uuid}</uuid>`)) {
      return Promise.reject(new InvalidError(`cannot take a ${String(m.driver)} guest ${uuid}`))
    }
    return this.#exclusive(uuid, async () => {
      if ((await this.#lookup(uuid)) !== undefined) return
      const hv = this.#hypervisor()
      await defineFiltersOf(hv, m.definition)
      const domain = await hv.domainDefineXML(m.definition)
      try {
        await hv.domainCreate(domain)
        if (m.state === 'paused') await hv.domainSuspend(domain)
      } catch (err) {
        await ignoreNotRunning(hv.domainDestroy(domain))
        await hv.domainUndefine(domain).catch(() => undefined)
        throw err
      }
    })
  }

  async close(): Promise<void> {
    const hv = this.#hv
    this.#hv = undefined
    const display = this.#display
    this.#display = undefined
    await display?.close()
    if (hv !== undefined) await hv.connectClose()
  }

  /** Runs `fn` on the guest under its lock, with its current state; "not found" becomes InstanceNotFoundError. */
  #operate(uuid: string, fn: (domain: Domain, state: GuestState) => Promise<void>): Promise<void> {
    const id = uuid.toLowerCase()
    return this.#exclusive(id, async () => {
      const domain = await this.#find(id)
      try {
        await fn(domain, await this.#state(id, domain))
      } catch (err) {
        rethrow(id, err)
      }
    })
  }

  async #state(uuid: string, domain: Domain): Promise<GuestState> {
    const { state } = await this.#hypervisor().domainGetInfo(domain)
    const saved = await access(this.#savePath(uuid)).then(
      () => true,
      () => false,
    )
    if (state === VIR.SHUTOFF) return saved ? 'suspended' : 'shutoff'
    // Running with a save file: someone started the guest behind our back; its memory is newer.
    if (saved) await rm(this.#savePath(uuid), { force: true })
    if (state === VIR.RUNNING || state === VIR.BLOCKED || state === VIR.SHUTDOWN) return 'running'
    if (state === VIR.PAUSED) return 'paused'
    return 'other'
  }

  /** ACPI shutdown, waiting up to the timeout, then a hard stop (Nova's `_clean_shutdown`). */
  async #shutdown(domain: Domain): Promise<void> {
    const hv = this.#hypervisor()
    await ignoreNotRunning(hv.domainShutdown(domain))
    const deadline = Date.now() + this.#shutdownTimeoutMs
    for (let delay = 5; ; delay = Math.min(delay * 2, 500)) {
      if ((await hv.domainGetInfo(domain)).state === VIR.SHUTOFF) return
      if (Date.now() >= deadline) break
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())))
    }
    await ignoreNotRunning(hv.domainDestroy(domain))
  }

  async #restore(uuid: string): Promise<void> {
    await this.#hypervisor().domainRestore(this.#savePath(uuid))
    await rm(this.#savePath(uuid), { force: true })
  }

  async #find(uuid: string): Promise<Domain> {
    const domain = UUID.test(uuid) ? await this.#lookup(uuid.toLowerCase()) : undefined
    if (domain === undefined) throw new InstanceNotFoundError(uuid)
    return domain
  }

  async #lookup(uuid: string): Promise<Domain | undefined> {
    try {
      return await this.#hypervisor().domainLookupByUUIDString(uuid)
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  #unrescuePath(uuid: string): string {
    return join(this.#saveDir, `${uuid}.unrescue.xml`)
  }

  /** The serial console log of the guest, in its instance directory (as Nova's `console.log`). */
  #consoleLog(uuid: string): string {
    return join(this.#instancesPath, uuid, 'console.log')
  }

  #savePath(uuid: string): string {
    return join(this.#saveDir, `${uuid}.save`)
  }

  #hypervisor(): Hypervisor {
    if (this.#hv === undefined) throw new Error(`libvirt driver is not connected to ${this.#uri}: call init() first`)
    return this.#hv
  }

  /** Serialises work per guest; work on different guests runs in parallel. */
  async #exclusive<T>(uuid: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(uuid) ?? Promise.resolve()
    let release = (): void => undefined
    const mine = new Promise<void>((resolve) => (release = resolve))
    const tail = previous.then(() => mine)
    this.#locks.set(uuid, tail)
    await previous
    try {
      return await fn()
    } finally {
      release()
      if (this.#locks.get(uuid) === tail) this.#locks.delete(uuid)
    }
  }
}
