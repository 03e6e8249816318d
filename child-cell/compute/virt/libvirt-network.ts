import type { NetworkInfo, PortInfo } from '../../../shared/network/network-info.js'
import { ConflictError, InvalidError } from '../../../shared/errors.js'
import { filterNameOf } from './guest-network.js'
import type { LibvirtDomain, LibvirtHypervisor } from './libvirt-binding.js'
import { interfaceXml, interfacesOf, nwfilterXml, portMetadataXml, portsInMetadata, withInterface, withoutInterface } from './libvirt-network-xml.js'
import type { GuestState } from './libvirt-support.js'
import { conflict, ignoreNotRunning } from './libvirt-support.js'

/**
 * The libvirt driver's network part: rendering a guest's ports into its definition, defining and
 * undefining their nwfilters, and adding or removing a port of a defined guest.
 *
 * `@unraid/libvirt` exposes neither `virNWFilterDefineXML` nor `virDomainAttachDeviceFlags`
 * (checked against its 1.x API). So:
 * - the nwfilter of each port is always kept in the domain's metadata (`<fed:port>`), and defined
 *   in libvirt when the binding offers the calls (see {@link NwFilterCalls}); libvirt's test driver
 *   keeps a `<filterref>` to an undefined filter without complaint (it instantiates no filters),
 *   while qemu refuses to start such a guest, so on qemu without those calls a port with port
 *   security is refused (`InvalidError`) rather than started unfiltered;
 * - a port is attached or detached by redefining the guest, and a running guest is restarted to
 *   take the new definition (no hot-plug without the binding's device calls).
 */

/** The nwfilter calls of libvirt, as a binding that has them would expose them (none does yet). */
export interface NwFilterCalls {
  nwfilterDefineXML(xml: string): Promise<unknown>
  nwfilterLookupByName(name: string): Promise<unknown>
  nwfilterUndefine(filter: unknown): Promise<void>
}

/** libvirt's VIR_DOMAIN_XML_INACTIVE: the persistent definition rather than the live one. */
const XML_INACTIVE = 2

/** The nwfilter calls of `hv`, when its binding has them. */
function filterCalls(hv: LibvirtHypervisor): NwFilterCalls | undefined {
  const h = hv as Partial<NwFilterCalls>
  return typeof h.nwfilterDefineXML === 'function' && typeof h.nwfilterLookupByName === 'function' && typeof h.nwfilterUndefine === 'function'
    ? (h as NwFilterCalls)
    : undefined
}

/** The devices and metadata of a guest's ports, for domainXml(); undefined for none. */
export function renderNetwork(info: NetworkInfo | undefined): { devices: string; metadata: string } | undefined {
  if (info === undefined || info.length === 0) return undefined
  return { devices: info.map(interfaceXml).join(''), metadata: info.map(portMetadataXml).join('') }
}

/**
 * Defines the nwfilters of the ports with port security (see the header for a binding without the
 * calls). Idempotent: defining a filter again replaces it.
 */
export async function defineFilters(hv: LibvirtHypervisor, isTest: boolean, ports: readonly PortInfo[]): Promise<void> {
  const filtered = ports.filter((p) => p.portSecurityEnabled)
  if (filtered.length === 0) return
  const calls = filterCalls(hv)
  if (calls === undefined) {
    if (isTest) return
    throw new InvalidError('port security cannot be enforced on this host: its libvirt binding cannot define nwfilters (virNWFilterDefineXML)')
  }
  for (const p of filtered) await calls.nwfilterDefineXML(nwfilterXml(p))
}

/** Defines the filters a definition's metadata holds (a live migration's target). */
export async function defineFiltersOf(hv: LibvirtHypervisor, domainXml: string): Promise<void> {
  const calls = filterCalls(hv)
  if (calls === undefined) return
  for (const p of portsInMetadata(domainXml).values()) if (p.filterXml !== '') await calls.nwfilterDefineXML(p.filterXml)
}

/** Undefines the nwfilters of the given ports; a filter that is gone already is fine. */
export async function undefineFilters(hv: LibvirtHypervisor, portIds: readonly string[]): Promise<void> {
  const calls = filterCalls(hv)
  if (calls === undefined) return
  for (const id of portIds) {
    const filter = await calls.nwfilterLookupByName(filterNameOf(id)).catch(() => undefined)
    if (filter !== undefined) await calls.nwfilterUndefine(filter).catch(() => undefined)
  }
}

/** The port ids a definition's metadata records. */
export function portIdsOf(domainXml: string): string[] {
  return [...portsInMetadata(domainXml).values()].map((p) => p.id)
}

/**
 * Adds (`port`) or removes (`portId`) one port of a defined guest by redefining it; a running guest
 * is restarted on the new definition. No-op when the guest already is as asked. Paused or
 * suspended: `ConflictError` (their saved state holds the old devices).
 */
export async function changeInterfaces(
  args: { readonly hv: LibvirtHypervisor; readonly isTest: boolean; readonly uuid: string; readonly domain: LibvirtDomain; readonly state: GuestState },
  change: { readonly attach: PortInfo } | { readonly detach: string },
): Promise<void> {
  const { hv, domain, state, uuid } = args
  const xml = await hv.domainGetXMLDesc(domain, XML_INACTIVE)
  const current = interfacesOf(xml)
  let next: string
  if ('attach' in change) {
    const port = change.attach
    if (current.some((i) => i.portId === port.portId)) return
    if (state === 'paused' || state === 'suspended') throw conflict('attach an interface to', uuid, state)
    if (current.some((i) => i.macAddress === port.macAddress.toLowerCase())) {
      throw new ConflictError(`instance ${uuid} already has an interface with MAC address ${port.macAddress}`, { uuid })
    }
    await defineFilters(hv, args.isTest, [port])
    next = withInterface(xml, port)
  } else {
    const found = current.find((i) => i.portId === change.detach)
    if (found === undefined) return
    if (state === 'paused' || state === 'suspended') throw conflict('detach an interface from', uuid, state)
    next = withoutInterface(xml, found.macAddress)
  }
  if (state === 'running') await ignoreNotRunning(hv.domainDestroy(domain))
  try {
    await hv.domainDefineXML(next)
    if (state === 'running') await hv.domainCreate(domain)
  } catch (err) {
    // Back to the definition and the state the guest had: a failed change changes nothing.
    await hv.domainDefineXML(xml).catch(() => undefined)
    if (state === 'running') await hv.domainCreate(domain).catch(() => undefined)
    if ('attach' in change) await undefineFilters(hv, [change.attach.portId])
    throw err
  }
  if ('detach' in change) await undefineFilters(hv, [change.detach])
}
