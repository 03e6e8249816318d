import { describe, expect, it } from 'vitest'
import { ImagePropertiesFilter } from '../../../../../child-cell/scheduler/filters/image-properties-filter.js'
import { host, keeps, spec } from '../fixtures.js'

describe('ImagePropertiesFilter', () => {
  const filter = ImagePropertiesFilter.fromOptions({})
  // x86_64 QEMU 6.2.0, aarch64 KVM 8.0.0, x86_64 with unknown version
  const hosts = [
    host({ host: 'x86', cpuArch: 'x86_64', hypervisorType: 'QEMU', hypervisorVersion: 6002000 }),
    host({ host: 'arm', cpuArch: 'aarch64', hypervisorType: 'KVM', hypervisorVersion: 8000000 }),
    host({ host: 'old', cpuArch: 'x86_64', hypervisorType: 'QEMU', hypervisorVersion: 0 }),
  ]

  it.each<{ case: string; props: Record<string, string>; want: boolean[] }>([
    { case: 'no properties', props: {}, want: [true, true, true] },
    { case: 'architecture', props: { hw_architecture: 'aarch64' }, want: [false, true, false] },
    { case: 'legacy architecture name, canonicalised (amd64)', props: { architecture: 'amd64' }, want: [true, false, true] },
    { case: 'current name wins over legacy', props: { hw_architecture: 'aarch64', architecture: 'x86_64' }, want: [false, true, false] },
    { case: 'hypervisor type, case-insensitive', props: { img_hv_type: 'qemu' }, want: [true, false, true] },
    { case: 'legacy hypervisor_type', props: { hypervisor_type: 'KVM' }, want: [false, true, false] },
    { case: 'VM mode hvm', props: { hw_vm_mode: 'hvm' }, want: [true, true, true] },
    { case: 'VM mode hv is hvm', props: { vm_mode: 'HV' }, want: [true, true, true] },
    { case: 'VM mode xen: no host', props: { hw_vm_mode: 'xen' }, want: [false, false, false] },
    { case: 'version >=6.0', props: { img_hv_requested_version: '>=6.0' }, want: [true, true, true] },
    { case: 'version >=6.3 (unknown version passes)', props: { img_hv_requested_version: '>=6.3' }, want: [false, true, true] },
    { case: 'version as Nova integer >=6000 (6.0)', props: { img_hv_requested_version: '>=6000' }, want: [true, true, true] },
    { case: 'version as Nova integer >6002000', props: { img_hv_requested_version: '>6002000' }, want: [false, true, true] },
    { case: 'version range', props: { img_hv_requested_version: '>=4.0, <7.0' }, want: [true, false, true] },
    { case: 'legacy hypervisor_version_requires', props: { hypervisor_version_requires: '==8.0.0' }, want: [false, true, true] },
    { case: 'unparsable version: no host', props: { img_hv_requested_version: 'latest' }, want: [false, false, false] },
    { case: 'everything at once', props: { hw_architecture: 'x86_64', img_hv_type: 'qemu', hw_vm_mode: 'hvm', img_hv_requested_version: '>=6.2' }, want: [true, false, true] },
    { case: 'unrelated properties', props: { os_distro: 'cirros', hw_disk_bus: 'virtio' }, want: [true, true, true] },
  ])('$case', ({ props, want }) => {
    expect(keeps(filter, hosts, spec({ image: { id: 'img', properties: props } }))).toEqual(want)
  })

  it('describes the requirements in its reason', () => {
    const v = filter.passes(hosts[0]!, spec({ image: { id: 'img', properties: { hw_architecture: 'aarch64' } } }))
    expect(v).toEqual({ pass: false, reason: expect.stringContaining('architecture=aarch64') })
  })

  it('agrees over a long run of alternating kinds and versions', () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      host({ host: `h${i}`, cpuArch: i % 5 === 0 ? 'aarch64' : 'x86_64', hypervisorVersion: i % 2 === 0 ? 6002000 : 8000000 }),
    )
    const got = keeps(filter, many, spec({ image: { id: 'img', properties: { hw_architecture: 'x86_64', img_hv_requested_version: '>=7.0' } } }))
    expect(got).toEqual(many.map((_, i) => i % 5 !== 0 && i % 2 === 1))
  })
})
