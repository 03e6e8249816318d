/**
 * The part of `@unraid/libvirt` this project uses, declared here rather than imported from the
 * package: the package is an optional dependency (its native module needs libvirt's headers and
 * pkg-config to build), and the project must type-check and build on a machine where it was never
 * installed. The module is loaded at run time, only when the libvirt driver is chosen.
 *
 * Keep these declarations to the calls we make; each mirrors the package's own signature.
 */

/** A domain handle of the binding (opaque to us). */
export interface LibvirtDomain {
  readonly __libvirtDomain?: never
}

/** virDomainGetInfo. `maxMem`/`memory` in KiB; `state` is a virDomainState number. */
export interface LibvirtDomainInfo {
  readonly state: number
  readonly maxMem: number
  readonly memory: number
  readonly nrVirtCpu: number
  readonly cpuTime: number
}

/** virNodeGetInfo. `memory` in KiB. */
export interface LibvirtNodeInfo {
  readonly model: string
  readonly memory: number
  readonly cpus: number
  readonly mhz: number
  readonly nodes: number
  readonly sockets: number
  readonly cores: number
  readonly threads: number
}

/** One connection to a hypervisor (`new Hypervisor({ uri })`, then `connectOpen()`). */
export interface LibvirtHypervisor {
  connectOpen(): Promise<void>
  connectClose(): Promise<void>
  connectListAllDomains(flags?: number): Promise<LibvirtDomain[]>
  nodeGetInfo(): Promise<LibvirtNodeInfo>
  domainDefineXML(xml: string): Promise<LibvirtDomain>
  domainCreate(domain: LibvirtDomain): Promise<void>
  domainUndefine(domain: LibvirtDomain): Promise<void>
  domainDestroy(domain: LibvirtDomain): Promise<void>
  domainShutdown(domain: LibvirtDomain): Promise<void>
  domainSuspend(domain: LibvirtDomain): Promise<void>
  domainResume(domain: LibvirtDomain): Promise<void>
  domainSave(domain: LibvirtDomain, path: string): Promise<void>
  domainRestore(path: string): Promise<void>
  domainGetInfo(domain: LibvirtDomain): Promise<LibvirtDomainInfo>
  domainGetXMLDesc(domain: LibvirtDomain, flags?: number): Promise<string>
  domainGetUUIDString(domain: LibvirtDomain): Promise<string>
  domainLookupByUUIDString(uuid: string): Promise<LibvirtDomain>
  domainGetXMLDesc(domain: LibvirtDomain, flags?: number): Promise<string>
}

/** The module's exports we use. */
export interface LibvirtModule {
  readonly Hypervisor: new (args: { readonly uri: string }) => LibvirtHypervisor
}

/**
 * The package name, kept in a variable so that TypeScript does not try to resolve the module at
 * build time (it may be absent).
 */
const PACKAGE: string = '@unraid/libvirt'

let loaded: Promise<LibvirtModule> | undefined

/**
 * Loads `@unraid/libvirt` once per process. Rejects when the package is not installed, or when its
 * native module does not load (libvirt0 missing); the native module itself is loaded lazily by the
 * package, in the `Hypervisor` constructor, so callers that must know for sure construct one.
 */
export function loadLibvirt(): Promise<LibvirtModule> {
  loaded ??= import(PACKAGE).then((m: unknown) => {
    const mod = (m as { default?: unknown; Hypervisor?: unknown })
    const exported = (mod.Hypervisor !== undefined ? mod : mod.default) as LibvirtModule | undefined
    if (typeof exported?.Hypervisor !== 'function') throw new Error(`${PACKAGE} does not export Hypervisor`)
    return exported
  })
  return loaded
}
