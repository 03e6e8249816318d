import { describe, expect, it } from 'vitest'
import { canonicalAddress, formatCidr, overlaps, parseCidr } from '../../../../api-cell/network/ip-math.js'
import { NeutronError } from '../../../../api-cell/network/faults.js'
import { validateSubnet } from '../../../../api-cell/network/subnet-model.js'

describe('address arithmetic', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['fd00:0:0:0::1', 'fd00::1'],
    ['FD00::A', 'fd00::a'],
    ['::ffff:1.2.3.4', '::ffff:102:304'],
    ['10.0.0', undefined],
    ['nope', undefined],
  ])('canonical form of %s', (input, out) => {
    expect(canonicalAddress(input)).toBe(out)
  })

  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['fd00:0::/64', 'fd00::/64'],
    ['10.0.0.1/8', undefined],
    ['10.0.0.0/33', undefined],
    ['10.0.0.0', undefined],
  ])('CIDR %s', (input, out) => {
    const c = parseCidr(input)
    expect(c === undefined ? undefined : formatCidr(c)).toBe(out)
  })

  it('detects overlaps of one version only', () => {
    expect(overlaps(parseCidr('10.0.0.0/24')!, parseCidr('10.0.0.128/25')!)).toBe(true)
    expect(overlaps(parseCidr('10.0.0.0/24')!, parseCidr('10.0.1.0/24')!)).toBe(false)
    expect(overlaps(parseCidr('10.0.0.0/24')!, parseCidr('::/0')!)).toBe(false)
  })
})

describe('subnet validation', () => {
  it.each([
    [{ cidr: '10.0.0.0/24', ipVersion: 4 }, '10.0.0.1', [{ start: '10.0.0.2', end: '10.0.0.254' }]],
    [{ cidr: '10.0.0.0/24', ipVersion: 4, gatewayIp: '10.0.0.100' }, '10.0.0.100', [{ start: '10.0.0.1', end: '10.0.0.99' }, { start: '10.0.0.101', end: '10.0.0.254' }]],
    [{ cidr: '10.0.0.0/24', ipVersion: 4, gatewayIp: null }, null, [{ start: '10.0.0.1', end: '10.0.0.254' }]],
    [{ cidr: 'fd00::/126', ipVersion: 6 }, 'fd00::1', [{ start: 'fd00::2', end: 'fd00::3' }]],
    [{ cidr: '10.0.0.0/24', ipVersion: 4, allocationPools: [{ start: '10.0.0.10', end: '10.0.0.20' }] }, '10.0.0.1', [{ start: '10.0.0.10', end: '10.0.0.20' }]],
  ])('defaults and normalises %j', (input, gateway, pools) => {
    const s = validateSubnet(input)
    expect(s.gatewayIp).toBe(gateway)
    expect(s.pools).toEqual(pools)
  })

  it.each([
    [{ cidr: '10.0.0.5/24', ipVersion: 4 }, 400, 'InvalidInput'],
    [{ cidr: '10.0.0.0/24', ipVersion: 6 }, 400, 'InvalidInput'],
    [{ cidr: '10.0.0.0/24', ipVersion: 4, gatewayIp: '10.0.1.1' }, 400, 'InvalidInput'],
    [{ cidr: '10.0.0.0/24', ipVersion: 4, allocationPools: [{ start: '10.0.0.10', end: '10.0.1.20' }] }, 400, 'OutOfBoundsAllocationPool'],
    [{ cidr: '10.0.0.0/24', ipVersion: 4, allocationPools: [{ start: '10.0.0.10', end: '10.0.0.20' }, { start: '10.0.0.15', end: '10.0.0.30' }] }, 400, 'OverlappingAllocationPools'],
    [{ cidr: '10.0.0.0/24', ipVersion: 4, allocationPools: [{ start: '10.0.0.1', end: '10.0.0.20' }] }, 409, 'GatewayConflictWithAllocationPools'],
    [{ cidr: '10.0.0.0/24', ipVersion: 4, dnsNameservers: ['not-an-ip'] }, 400, 'InvalidInput'],
  ])('refuses %j', (input, status, type) => {
    let err: unknown
    try {
      validateSubnet(input)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(NeutronError)
    expect((err as NeutronError).status).toBe(status)
    expect((err as NeutronError).type).toBe(type)
  })
})
