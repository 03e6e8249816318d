import { describe, expect, it } from 'vitest'
import type { LibvirtHypervisor } from '../../../../../child-cell/compute/virt/libvirt-binding.js'
import { changeInterfaces, defineFilters, defineFiltersOf, renderNetwork, undefineFilters } from '../../../../../child-cell/compute/virt/libvirt-network.js'
import { domainXml } from '../../../../../child-cell/compute/virt/libvirt-domain-xml.js'
import { interfacesOf, nwfilterXml } from '../../../../../child-cell/compute/virt/libvirt-network-xml.js'
import { InvalidError } from '../../../../../shared/errors.js'
import { PORT_A, PORT_B, PORT_C } from '../../../../helpers/network-info.js'

/** A hypervisor whose binding has libvirt's nwfilter calls, recording them (the real binding has none). */
function withFilterCalls(): { hv: LibvirtHypervisor; defined: Map<string, string>; undefined: string[] } {
  const defined = new Map<string, string>()
  const gone: string[] = []
  const hv = {
    nwfilterDefineXML: (xml: string) => {
      const name = /name='([^']+)'/.exec(xml)?.[1] ?? ''
      defined.set(name, xml)
      return Promise.resolve({ name })
    },
    nwfilterLookupByName: (name: string) => (defined.has(name) ? Promise.resolve({ name }) : Promise.reject(new Error('Network filter not found'))),
    nwfilterUndefine: (f: { name: string }) => {
      defined.delete(f.name)
      gone.push(f.name)
      return Promise.resolve()
    },
  }
  return { hv: hv as unknown as LibvirtHypervisor, defined, undefined: gone }
}
const bare = {} as LibvirtHypervisor

describe('libvirt nwfilters of a guest', () => {
  it('defines the filter of each port with port security when the binding can, and undefines them', async () => {
    const { hv, defined, undefined: gone } = withFilterCalls()
    await defineFilters(hv, false, [PORT_A, PORT_B, PORT_C])
    expect([...defined.keys()]).toEqual([`federation-${PORT_A.portId}`, `federation-${PORT_C.portId}`])
    expect(defined.get(`federation-${PORT_A.portId}`)).toBe(nwfilterXml(PORT_A))
    await undefineFilters(hv, [PORT_A.portId, PORT_B.portId])
    expect(gone).toEqual([`federation-${PORT_A.portId}`])
    expect([...defined.keys()]).toEqual([`federation-${PORT_C.portId}`])
  })

  it('a live migration target defines the filters the definition carries in its metadata', async () => {
    const { hv, defined } = withFilterCalls()
    const xml = domainXml({ uuid: '6f1c7b0e-3d2a-4c8e-9b5f-0a1d2e3f4a5b', name: 'vm', memoryMb: 512, vcpus: 1, rootGb: 1, type: 'kvm', disk: undefined, consoleLog: undefined, network: renderNetwork([PORT_A, PORT_B])! })
    await defineFiltersOf(hv, xml)
    expect([...defined.entries()]).toEqual([[`federation-${PORT_A.portId}`, nwfilterXml(PORT_A)]])
  })

  it('without the calls: the test driver goes on (it instantiates no filter), qemu refuses a filtered port rather than start it unfiltered', async () => {
    await expect(defineFilters(bare, true, [PORT_A])).resolves.toBeUndefined()
    await expect(defineFilters(bare, false, [PORT_A])).rejects.toBeInstanceOf(InvalidError)
    await expect(defineFilters(bare, false, [PORT_A])).rejects.toThrow(/cannot define nwfilters/)
    // No port security, nothing to define: fine on qemu too.
    await expect(defineFilters(bare, false, [PORT_B])).resolves.toBeUndefined()
    await expect(undefineFilters(bare, [PORT_A.portId])).resolves.toBeUndefined()
  })

  it('a running guest whose new definition does not start gets its old definition back, started, and the error', async () => {
    const original = domainXml({ uuid: '6f1c7b0e-3d2a-4c8e-9b5f-0a1d2e3f4a5b', name: 'vm', memoryMb: 512, vcpus: 1, rootGb: 1, type: 'test', disk: undefined, consoleLog: undefined, network: renderNetwork([PORT_A])! })
    const defined: string[] = []
    const calls: string[] = []
    let creates = 0
    const hv = {
      domainGetXMLDesc: () => Promise.resolve(original),
      domainDestroy: () => (calls.push('destroy'), Promise.resolve()),
      domainDefineXML: (xml: string) => (defined.push(xml), Promise.resolve({})),
      domainCreate: () => (calls.push('create'), ++creates === 1 ? Promise.reject(new Error('bridge br-cccccccc-00 does not exist')) : Promise.resolve()),
    } as unknown as LibvirtHypervisor
    await expect(changeInterfaces({ hv, isTest: true, uuid: 'u', domain: {}, state: 'running' }, { attach: PORT_C })).rejects.toThrow(/does not exist/)
    expect(defined.map((x) => interfacesOf(x).map((i) => i.portId))).toEqual([[PORT_A.portId, PORT_C.portId], [PORT_A.portId]])
    expect(defined[1]).toBe(original)
    expect(calls).toEqual(['destroy', 'create', 'create'])
  })
})
