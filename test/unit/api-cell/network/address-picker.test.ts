import { describe, expect, it } from 'vitest'
import { candidateAddresses, canonicalAddress, isAssignable } from '../../../../api-cell/network/floating-ips/address-picker.js'
import type { ExternalSubnetFacts } from '../../../../api-cell/network/floating-ips/network-directory.js'

const subnet = (over: Partial<ExternalSubnetFacts> = {}): ExternalSubnetFacts => ({
  id: 's',
  ipVersion: 4,
  cidr: '192.0.2.0/29',
  gatewayIp: '192.0.2.1',
  allocationPools: [],
  ...over,
})

const take = (it: Iterable<string>, n: number): string[] => {
  const out: string[] = []
  for (const v of it) {
    out.push(v)
    if (out.length === n) break
  }
  return out
}

describe('floating IP address candidates', () => {
  it('walks the CIDR without network, gateway and broadcast when there are no pools', () => {
    expect([...candidateAddresses(subnet(), new Set())]).toEqual(['192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '192.0.2.6'])
  })

  it('walks the pools in order, skipping used addresses and the gateway inside a pool', () => {
    const s = subnet({ cidr: '192.0.2.0/24', allocationPools: [{ start: '192.0.2.100', end: '192.0.2.102' }, { start: '192.0.2.1', end: '192.0.2.3' }] })
    expect([...candidateAddresses(s, new Set(['192.0.2.101']))]).toEqual(['192.0.2.100', '192.0.2.102', '192.0.2.2', '192.0.2.3'])
  })

  it('is lazy on a huge subnet', () => {
    expect(take(candidateAddresses(subnet({ cidr: '10.0.0.0/8', gatewayIp: null }), new Set(['10.0.0.1'])), 2)).toEqual(['10.0.0.2', '10.0.0.3'])
  })

  it.each([
    ['192.0.2.4', true],
    ['192.0.2.0', false],
    ['192.0.2.7', false],
    ['192.0.2.1', false],
    ['192.0.2.8', false],
    ['2001:db8::1', false],
    ['not-an-ip', false],
  ])('%s assignable: %s', (address, expected) => {
    expect(isAssignable(subnet(), address)).toBe(expected)
  })

  it('canonicalises addresses', () => {
    expect(canonicalAddress('2001:0DB8:0:0:0:0:0:1')).toBe('2001:db8::1')
    expect(canonicalAddress('192.0.2.1')).toBe('192.0.2.1')
    expect(canonicalAddress('192.0.2')).toBeUndefined()
  })
})
