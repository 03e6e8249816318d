import { describe, expect, it } from 'vitest'
import { ConsoleUnavailableError } from '../../../../../child-cell/compute/virt/driver.js'
import { consoleAddressOf, domainXml } from '../../../../../child-cell/compute/virt/libvirt-domain-xml.js'

const UUID = '6f1c7b0e-3d2a-4c8e-9b5f-0a1d2e3f4a5b'
const base = { uuid: UUID, name: 'vm', memoryMb: 512, vcpus: 1, rootGb: 1, disk: undefined, consoleLog: undefined }

/** A live definition as libvirt returns it: attributes in its order, a nested <listen>. */
const live = (graphics: string, serial = ''): string =>
  `<domain type='kvm' id='3'><name>instance-${UUID}</name><devices>${serial}${graphics}<video><model type='cirrus'/></video></devices></domain>`

describe('console address from the domain XML (as Nova reads ./devices/graphics)', () => {
  it('every new guest has a VNC display: qemu picks the port (autoport), the test driver gets a fixed one from the uuid', () => {
    expect(domainXml({ ...base, type: 'kvm' })).toContain(`<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>`)
    const test = domainXml({ ...base, type: 'test', vncListen: '10.0.0.5' })
    expect(consoleAddressOf(test, 'vnc')).toEqual({ host: '10.0.0.5', port: 5900 + (0x6f1c7b0e % 1000) })
  })

  it.each([
    ['vnc on an address', live(`<graphics type='vnc' port='5901' autoport='yes' listen='192.0.2.7'><listen type='address' address='192.0.2.7'/></graphics>`), 'vnc', { host: '192.0.2.7', port: 5901 }],
    ['vnc, double quotes', live(`<graphics type="vnc" port="5933" listen="198.51.100.1"/>`), 'vnc', { host: '198.51.100.1', port: 5933 }],
    ['vnc on every address: reached on loopback', live(`<graphics type='vnc' port='5902' listen='0.0.0.0'/>`), 'vnc', { host: '127.0.0.1', port: 5902 }],
    ['vnc without listen', live(`<graphics type='vnc' port='5903'/>`), 'vnc', { host: '127.0.0.1', port: 5903 }],
    ['spice beside vnc', live(`<graphics type='vnc' port='5904' listen='127.0.0.1'/><graphics type='spice' port='5999' listen='127.0.0.2'/>`), 'spice', { host: '127.0.0.2', port: 5999 }],
    ['serial over TCP', live('', `<serial type='tcp'><source mode='bind' host='127.0.0.3' service='10000'/><protocol type='raw'/></serial>`), 'serial', { host: '127.0.0.3', port: 10000 }],
  ] as const)('%s', (_name, xml, kind, expected) => {
    expect(consoleAddressOf(xml, kind)).toEqual(expected)
  })

  it.each([
    ['no graphics at all', live(''), 'vnc'],
    ['qemu has not given a port yet (-1)', live(`<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>`), 'vnc'],
    ['a port out of range', live(`<graphics type='vnc' port='70000'/>`), 'vnc'],
    ['only vnc, spice asked', live(`<graphics type='vnc' port='5901'/>`), 'spice'],
    ['a file serial console', live('', `<serial type='file'><source path='/srv/console.log'/></serial>`), 'serial'],
  ] as const)('unavailable: %s', (_name, xml, kind) => {
    expect(() => consoleAddressOf(xml, kind)).toThrow(ConsoleUnavailableError)
  })
})
