import { describe, expect, it } from 'vitest'
import { CellImagePropertiesFilter } from '../../../../../shared/scheduling/cell-filters/cell-image-properties-filter.js'
import { cell, request } from '../fixtures.js'

describe('CellImagePropertiesFilter', () => {
  const filter = CellImagePropertiesFilter.fromOptions({})
  const mixed = cell({
    hostKinds: [
      { cpuArch: 'x86_64', hypervisorType: 'QEMU', hypervisorVersions: [4002000, 6002000] },
      { cpuArch: 'aarch64', hypervisorType: 'KVM', hypervisorVersions: [] },
    ],
  })
  const x86only = cell({ hostKinds: [{ cpuArch: 'x86_64', hypervisorType: 'QEMU', hypervisorVersions: [4002000] }] })

  it.each<{ case: string; props: Record<string, string>; want: boolean[] }>([
    { case: 'no requirements', props: {}, want: [true, true] },
    { case: 'aarch64 image', props: { hw_architecture: 'aarch64' }, want: [true, false] },
    { case: 'x86_64 QEMU >= 6.0', props: { architecture: 'x86_64', img_hv_type: 'qemu', img_hv_requested_version: '>=6.0' }, want: [true, false] },
    { case: 'aarch64 with any version (versions unknown)', props: { hw_architecture: 'aarch64', hypervisor_version_requires: '>=99.0' }, want: [true, false] },
    { case: 'a kind no cell has', props: { hw_architecture: 'ppc64le' }, want: [false, false] },
    { case: 'vm mode xen', props: { hw_vm_mode: 'xen' }, want: [false, false] },
    { case: 'unparsable version', props: { img_hv_requested_version: 'new' }, want: [false, false] },
  ])('$case', ({ props, want }) => {
    const r = request({ imageProperties: props })
    expect([mixed, x86only].map((c) => filter.passes(c, r).pass)).toEqual(want)
    expect(filter.appliesTo(r)).toBe(Object.keys(props).length > 0)
  })

  it('rejects a cell without any host kind when the image asks for one', () => {
    expect(filter.passes(cell({ hostKinds: [] }), request({ imageProperties: { hw_architecture: 'x86_64' } }))).toEqual({
      pass: false,
      reason: expect.stringContaining('architecture=x86_64'),
    })
  })
})
