import { describe, expect, it } from 'vitest'
import { ComputeCapabilitiesFilter } from '../../../../../child-cell/scheduler/filters/compute-capabilities-filter.js'
import { flavor, host, keeps, spec } from '../fixtures.js'

describe('ComputeCapabilitiesFilter', () => {
  const filter = ComputeCapabilitiesFilter.fromOptions({})
  const x86 = host({
    host: 'x86',
    cpuArch: 'x86_64',
    hypervisorType: 'QEMU',
    hypervisorVersion: 6002000,
    capabilities: { numa_nodes: '2', cpu_info: '{"vendor": "Intel", "features": ["sse", "avx2"]}', cpu_arch: 'ignored' },
  })
  const arm = host({ host: 'arm', cpuArch: 'aarch64', hypervisorType: 'KVM', capabilities: { numa_nodes: '1' } })

  it.each<{ case: string; specs: Record<string, string>; want: boolean[] }>([
    { case: 'no extra specs', specs: {}, want: [true, true] },
    { case: 'exact architecture', specs: { 'capabilities:cpu_arch': 's== x86_64' }, want: [true, false] },
    { case: 'plain value means equality', specs: { 'capabilities:cpu_arch': 'aarch64' }, want: [false, true] },
    { case: 'one of several hypervisors', specs: { 'capabilities:hypervisor_type': '<or> KVM <or> QEMU' }, want: [true, true] },
    { case: 'numeric capability', specs: { 'capabilities:numa_nodes': '>= 2' }, want: [true, false] },
    { case: 'hypervisor version attribute', specs: { 'capabilities:hypervisor_version': '>= 6000000' }, want: [true, true] },
    { case: 'vCPU total attribute, Nova `=` is at least', specs: { 'capabilities:vcpus_total': '= 8' }, want: [false, false] },
    { case: 'a scoped capability the host lacks fails', specs: { 'capabilities:gpu': 'yes' }, want: [false, false] },
    { case: 'an unscoped key the host lacks is ignored', specs: { gpu: 'yes' }, want: [true, true] },
    { case: 'an unscoped key the host has is checked', specs: { cpu_arch: 'aarch64' }, want: [false, true] },
    { case: 'other namespaces are not ours', specs: { 'hw:cpu_policy': 'dedicated', 'quota:cpu_shares': '1' }, want: [true, true] },
    { case: 'nested scope descends into JSON', specs: { 'capabilities:cpu_info:vendor': 'Intel' }, want: [true, false] },
    { case: 'nested list, substring match', specs: { 'capabilities:cpu_info:features': '<in> avx2' }, want: [true, false] },
    { case: 'nested key missing', specs: { 'capabilities:cpu_info:model': 'Skylake' }, want: [false, false] },
    { case: 'every spec must hold', specs: { 'capabilities:cpu_arch': 's== x86_64', 'capabilities:numa_nodes': '>= 3' }, want: [false, false] },
    { case: 'inherited object members are not capabilities', specs: { 'capabilities:constructor': '<in> Object' }, want: [false, false] },
  ])('$case', ({ specs, want }) => {
    expect(keeps(filter, [x86, arm], spec({ flavor: flavor({ extraSpecs: specs }) }))).toEqual(want)
  })

  it('attributes win over a capability of the same name', () => {
    // x86 declares capabilities.cpu_arch = 'ignored', but its cpu_arch attribute is x86_64
    expect(keeps(filter, [x86], spec({ flavor: flavor({ extraSpecs: { 'capabilities:cpu_arch': 'ignored' } }) }))).toEqual([false])
  })

  it('names the failing spec in its reason, and does not run without relevant specs', () => {
    const s = spec({ flavor: flavor({ extraSpecs: { 'capabilities:numa_nodes': '>= 2' } }) })
    expect(filter.passes(arm, s)).toEqual({ pass: false, reason: expect.stringContaining("'capabilities:numa_nodes' = '>= 2'") })
    expect(filter.appliesTo(spec({ flavor: flavor({ extraSpecs: { 'hw:mem_page_size': 'large' } }) }))).toBe(false)
    expect(filter.appliesTo(s)).toBe(true)
  })

  it('gives the same answers over many hosts sharing values', () => {
    const hosts = Array.from({ length: 50 }, (_, i) => host({ host: `h${i}`, capabilities: { numa_nodes: String(i % 3) } }))
    const got = keeps(filter, hosts, spec({ flavor: flavor({ extraSpecs: { 'capabilities:numa_nodes': '>= 1' } }) }))
    expect(got).toEqual(hosts.map((_, i) => i % 3 >= 1))
  })
})
