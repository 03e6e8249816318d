import { describe, expect, it } from 'vitest'
import {
  canonicalArch,
  canonicalHypervisorType,
  canonicalVmMode,
  imageRequirements,
  parseVersionPredicate,
  satisfiesVersion,
  supportsImage,
  versionFromInt,
  versionToInt,
} from '../../../../shared/scheduling/image-properties.js'

describe('image properties', () => {
  it.each([
    ['i386', 'i686'],
    ['x86_32', 'i686'],
    ['AMD64', 'x86_64'],
    ['aarch64', 'aarch64'],
  ])('architecture %s is %s', (name, want) => expect(canonicalArch(name)).toBe(want))

  it.each([
    ['QEMU', 'qemu'],
    ['xapi', 'xen'],
  ])('hypervisor type %s is %s', (name, want) => expect(canonicalHypervisorType(name)).toBe(want))

  it.each([
    ['pv', 'xen'],
    ['hv', 'hvm'],
    ['baremetal', 'hvm'],
    ['HVM', 'hvm'],
  ])('VM mode %s is %s', (name, want) => expect(canonicalVmMode(name)).toBe(want))

  it.each([
    ['4.2.0', 4002000],
    ['6.0', 6000],
    ['10', 10],
    ['x.y', undefined],
  ])('versionToInt(%s) = %s, like Nova', (text, want) => expect(versionToInt(text)).toBe(want))

  it.each([
    [4002000, [4, 2, 0]],
    [6000, [6, 0]],
    [0, []],
  ])('versionFromInt(%s) = %j', (v, want) => expect(versionFromInt(v)).toEqual(want))

  it.each([
    { text: '>=6.0', host: 6000000, ok: true },
    { text: '>= 6.0', host: 5009000, ok: false },
    { text: '(>=4.0, <7.0)', host: 6002000, ok: true },
    { text: '>=4.0, <7.0', host: 7000000, ok: false },
    { text: '==6.2', host: 6002000, ok: true },
    { text: '!=6.2.0', host: 6002000, ok: false },
    { text: '<6000', host: 5999000, ok: true },
    { text: '>6002000', host: 6002001, ok: true },
    { text: '>=6.0', host: 6000, ok: true }, // a two-part host version compares as 6.0
    { text: '>=1.2.3.4', host: 1002003, ok: false }, // four parts: compared part by part
  ])('$text satisfied by $host: $ok', ({ text, host, ok }) => {
    const p = parseVersionPredicate(text)
    expect(p).toBeDefined()
    expect(satisfiesVersion(p!, host)).toBe(ok)
  })

  it.each(['', '6.0', '>=', '~=6', '>=6.0,', 'latest'])('refuses the predicate %j', (text) => {
    expect(parseVersionPredicate(text)).toBeUndefined()
  })

  it('reads current names over legacy ones, and an unparsable version matches no host', () => {
    expect(imageRequirements({ architecture: 'amd64', hw_architecture: 'aarch64', vm_mode: 'hv' })).toEqual({ arch: 'aarch64', vmMode: 'hvm' })
    const bad = imageRequirements({ img_hv_requested_version: 'soon' })
    expect(bad.version).toBeNull()
    expect(supportsImage(bad, { cpuArch: 'x86_64', hypervisorType: 'QEMU', hypervisorVersion: 6000000 })).toBe(false)
  })
})
