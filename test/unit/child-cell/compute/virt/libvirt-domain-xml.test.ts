import { describe, expect, it } from 'vitest'
import { lastLines } from '../../../../../child-cell/compute/virt/driver.js'
import { domainXml, RESCUE_MARK, rescueXml } from '../../../../../child-cell/compute/virt/libvirt-domain-xml.js'

const UUID = '6f1c7b0e-3d2a-4c8e-9b5f-0a1d2e3f4a5b'
const base = { uuid: UUID, name: 'vm', memoryMb: 512, vcpus: 1, rootGb: 1 }

describe('libvirt domain XML', () => {
  it('logs the serial console to a file when given one, and uses a pty otherwise', () => {
    const logged = domainXml({ ...base, type: 'kvm', disk: undefined, consoleLog: `/srv/i/${UUID}/console.log` })
    expect(logged).toContain(`<serial type='file'><source path='/srv/i/${UUID}/console.log'/>`)
    expect(logged).toContain(`<console type='file'>`)
    expect(domainXml({ ...base, type: 'test', disk: undefined, consoleLog: undefined })).toContain(`<console type='pty'/>`)
  })

  it('attaches a config drive as a read-only cdrom (its path escaped), and none without one; a rescue keeps it', () => {
    const xml = domainXml({ ...base, type: 'kvm', disk: { path: `/srv/i/${UUID}/disk`, format: 'qcow2' }, consoleLog: undefined, configDrivePath: `/srv/i/it's/disk.config` })
    expect(xml).toContain(`<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/srv/i/it&#39;s/disk.config'/><target dev='sda' bus='sata'/><readonly/></disk>`)
    expect(domainXml({ ...base, type: 'kvm', disk: undefined, consoleLog: undefined })).not.toContain('cdrom')
    const rescue = rescueXml(xml, { disk: { path: `/srv/i/${UUID}/disk.rescue`, format: 'qcow2' } })
    expect(rescue).toContain(`<target dev='sda' bus='sata'/><readonly/>`)
  })

  it('rescue: the rescue disk becomes vda and boots, the own disk moves to vdb, the definition is marked', () => {
    const own = domainXml({ ...base, type: 'kvm', disk: { path: `/srv/i/${UUID}/disk`, format: 'qcow2' }, consoleLog: undefined })
    const rescue = rescueXml(own, { disk: { path: `/srv/i/${UUID}/disk.rescue`, format: 'qcow2' }, imageRef: 'img-1' })
    expect(rescue).toContain(`<description>${RESCUE_MARK} image img-1</description>`)
    const disks = [...rescue.matchAll(/<source file='([^']+)'\/><target dev='(vd[a-z])'/g)].map((m) => [m[1], m[2]])
    expect(disks).toEqual([
      [`/srv/i/${UUID}/disk.rescue`, 'vda'],
      [`/srv/i/${UUID}/disk`, 'vdb'],
    ])
    // A guest without disks (the test driver) only gets the mark.
    const bare = domainXml({ ...base, type: 'test', disk: undefined, consoleLog: undefined })
    expect(rescueXml(bare, { disk: undefined })).toBe(bare.replace("<domain type='test'>", `<domain type='test'><description>${RESCUE_MARK}</description>`))
  })

  it.each([
    ['a\nb\nc\n', undefined, 'a\nb\nc\n'],
    ['a\nb\nc\n', -1, 'a\nb\nc\n'],
    // Nova's _tail_log: what follows the trailing newline is a (last, empty) line.
    ['a\nb\nc\n', 2, 'c\n'],
    ['a\nb\nc\n', 3, 'b\nc\n'],
    ['a\nb\nc', 2, 'b\nc'],
    ['a\nb\nc\n', 10, 'a\nb\nc\n'],
    ['a\nb\n', 0, ''],
    ['', 5, ''],
  ])('lastLines(%j, %s) = %j', (text, n, expected) => {
    expect(lastLines(text, n)).toBe(expected)
  })
})
