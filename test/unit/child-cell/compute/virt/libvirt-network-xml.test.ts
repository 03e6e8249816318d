import { describe, expect, it } from 'vitest'
import { filterRulesOf, tapNameOf } from '../../../../../child-cell/compute/virt/guest-network.js'
import { domainXml } from '../../../../../child-cell/compute/virt/libvirt-domain-xml.js'
import { renderNetwork } from '../../../../../child-cell/compute/virt/libvirt-network.js'
import {
  interfaceXml,
  interfacesOf,
  nwfilterXml,
  portsInMetadata,
  ruleXml,
  withInterface,
  withoutInterface,
} from '../../../../../child-cell/compute/virt/libvirt-network-xml.js'
import type { FilterRule } from '../../../../../child-cell/compute/virt/guest-network.js'
import { PORT_A, PORT_B, PORT_C } from '../../../../helpers/network-info.js'

const UUID = '6f1c7b0e-3d2a-4c8e-9b5f-0a1d2e3f4a5b'
const base = { uuid: UUID, name: 'vm', memoryMb: 512, vcpus: 1, rootGb: 1, type: 'test' as const, disk: undefined, consoleLog: undefined }

const rule = (r: Partial<FilterRule>): FilterRule => ({
  action: 'accept', direction: 'in', ethertype: 'IPv4', protocol: 'tcp', portMin: null, portMax: null, remotePrefix: null, state: null, priority: 300, ...r,
})

describe('libvirt network XML', () => {
  it('renders a port as a bridge interface with its MAC, bridge, virtio model, MTU, tap device and filter', () => {
    expect(interfaceXml(PORT_A)).toBe(
      `<interface type='bridge'><mac address='fa:16:3e:00:00:0a'/><source bridge='br-aaaaaaaa-00'/><target dev='tap1a1b2c3d-4e'/>` +
        `<model type='virtio'/><filterref filter='federation-${PORT_A.portId}'><parameter name='IP' value='10.0.0.5'/></filterref>` +
        `<mtu size='1450'/></interface>`,
    )
    expect(tapNameOf(PORT_A.portId)).toBe('tap1a1b2c3d-4e')
    // No port security: no filter at all.
    expect(interfaceXml(PORT_B)).not.toContain('filterref')
  })

  it.each<[string, Partial<FilterRule>, string]>([
    ['tcp ingress from a prefix', { protocol: 'tcp', portMin: 22, portMax: 22, remotePrefix: '192.0.2.0/24' }, `<tcp srcipaddr='192.0.2.0' srcipmask='24' dstportstart='22' dstportend='22'/>`],
    ['udp egress to a v6 prefix', { direction: 'out', ethertype: 'IPv6', protocol: 'udp', portMin: 53, portMax: 53, remotePrefix: '2001:db8::/32' }, `<udp-ipv6 dstipaddr='2001:db8::' dstipmask='32' dstportstart='53' dstportend='53'/>`],
    ['icmp type and code', { protocol: 'icmp', portMin: 8, portMax: 0 }, `<icmp type='8' code='0'/>`],
    ['icmpv6', { ethertype: 'IPv6', protocol: 'icmpv6' }, `<icmpv6/>`],
    ['any protocol', { protocol: 'all' }, `<all/>`],
    ['any protocol on IPv6', { ethertype: 'IPv6', protocol: 'all' }, `<all-ipv6/>`],
    ['a protocol by number', { protocol: '47' }, `<ip protocol='47'/>`],
    ['a protocol name that needs escaping', { protocol: "x'><y" }, `<ip protocol='x&#39;&#62;&#60;y'/>`],
    ['connection state', { protocol: 'all', direction: 'inout', state: 'ESTABLISHED,RELATED' }, `<all state='ESTABLISHED,RELATED'/>`],
  ])('renders a rule: %s', (_what, r, element) => {
    const xml = ruleXml(rule(r))
    expect(xml).toContain(element)
    expect(xml.startsWith(`<rule action='accept' direction='${r.direction ?? 'in'}' priority='300'>`)).toBe(true)
  })

  it('filters a port: anti-spoofing, its IPv6 sources, established traffic, DHCP out, each rule, default drop last', () => {
    const xml = nwfilterXml(PORT_A)
    expect(xml.startsWith(`<filter name='federation-${PORT_A.portId}' chain='root'>`)).toBe(true)
    for (const f of ['no-mac-spoofing', 'no-ip-spoofing', 'no-arp-spoofing']) expect(xml).toContain(`<filterref filter='${f}'/>`)
    expect(xml).toContain(`<ipv6 srcipaddr='2001:db8::5'/>`)
    expect(xml).toContain(`<ipv6 srcipaddr='fe80::' srcipmask='10'/>`)
    expect(xml).toContain(`<rule action='accept' direction='in' priority='300'><tcp srcipaddr='192.0.2.0' srcipmask='24' dstportstart='22' dstportend='22'/></rule>`)
    expect(xml).toContain(`<rule action='accept' direction='out' priority='300'><all/></rule>`)
    expect(xml).toContain(`<rule action='accept' direction='out' priority='200'><udp dstportstart='67' dstportend='67'/></rule>`)
    expect(xml).toContain(`<rule action='accept' direction='in' priority='200'><udp dstportstart='68' dstportend='68'/></rule>`)
    // Neighbour solicitations reach the guest, whatever its rules.
    expect(xml).toContain(`<rule action='accept' direction='in' priority='200'><icmpv6 type='135'/></rule>`)
    expect(xml.endsWith(`<rule action='drop' direction='inout' priority='1000'><all/></rule><rule action='drop' direction='inout' priority='1000'><all-ipv6/></rule></filter>`)).toBe(true)
    // One accept per security group rule, between the fixed ones and the drops.
    expect(filterRulesOf(PORT_A).filter((r) => r.priority === 300)).toHaveLength(PORT_A.securityRules.length)
  })

  it('a domain with two ports: both interfaces in order, the ports and the filter in the metadata, read back the same', () => {
    const xml = domainXml({ ...base, network: renderNetwork([PORT_A, PORT_B])! })
    expect(interfacesOf(xml)).toEqual([
      { portId: PORT_A.portId, macAddress: PORT_A.macAddress, bridge: PORT_A.bridge, mtu: 1450, device: tapNameOf(PORT_A.portId), filter: `federation-${PORT_A.portId}` },
      { portId: PORT_B.portId, macAddress: PORT_B.macAddress, bridge: PORT_B.bridge, mtu: 1500, device: tapNameOf(PORT_B.portId), filter: null },
    ])
    const meta = portsInMetadata(xml)
    expect(meta.get(PORT_A.macAddress)).toEqual({ id: PORT_A.portId, filterXml: nwfilterXml(PORT_A) })
    expect(meta.get(PORT_B.macAddress)).toEqual({ id: PORT_B.portId, filterXml: '' })
    expect(renderNetwork([])).toBeUndefined()
  })

  it('adds and removes one port of a definition, leaving the others', () => {
    const xml = domainXml({ ...base, network: renderNetwork([PORT_A, PORT_B])! })
    const added = withInterface(xml, PORT_C)
    expect(interfacesOf(added).map((i) => i.portId)).toEqual([PORT_A.portId, PORT_B.portId, PORT_C.portId])
    const removed = withoutInterface(added, PORT_A.macAddress)
    expect(interfacesOf(removed).map((i) => i.portId)).toEqual([PORT_B.portId, PORT_C.portId])
    expect([...portsInMetadata(removed).values()].map((p) => p.id)).toEqual([PORT_B.portId, PORT_C.portId])
    // The rest of the definition is untouched.
    expect(removed).toContain(`<uuid>${UUID}</uuid>`)
  })

  it('escapes what it writes: a hostile bridge name or MAC cannot open an element', () => {
    const hostile = { ...PORT_B, bridge: "br'/><evil/>", macAddress: "fa:16:3e:00:00:0b'" }
    const xml = interfaceXml(hostile)
    expect(xml).not.toContain('<evil/>')
    expect(interfacesOf(domainXml({ ...base, network: renderNetwork([hostile])! }))[0]?.bridge).toBe(hostile.bridge)
  })
})
