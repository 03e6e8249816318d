import { describe, expect, it } from 'vitest'
import { NeutronFault } from '../../../../api-cell/network/security-groups/neutron-faults.js'
import { normalizePrefix } from '../../../../api-cell/network/security-groups/ip-prefix.js'
import { ruleFingerprint, validateRule } from '../../../../api-cell/network/security-groups/rule-validation.js'

const SG = '0b9c6c1f-8a51-4c55-9d3e-3f6a3c7e1a10'
const RG = '9f2f33c3-3b7d-4a4e-8d0e-6f0e0f3b2c11'
const base = { security_group_id: SG, direction: 'ingress' }

/** The Neutron type a body fails with, or 'ok'. */
function outcome(extra: Record<string, unknown>): string {
  try {
    validateRule({ ...base, ...extra })
    return 'ok'
  } catch (err) {
    if (err instanceof NeutronFault && err.status === 400) return err.type
    throw err
  }
}

describe('security group rule validation (Neutron semantics)', () => {
  it.each([
    ['no protocol, no ports', {}, 'ok'],
    ['tcp range', { protocol: 'tcp', port_range_min: 22, port_range_max: 22 }, 'ok'],
    ['TCP upper-case name', { protocol: 'TCP', port_range_min: 80, port_range_max: 443 }, 'ok'],
    ['protocol by number', { protocol: '6', port_range_min: 80, port_range_max: 80 }, 'ok'],
    ['protocol as a JSON number', { protocol: 17, port_range_min: 53, port_range_max: 53 }, 'ok'],
    ['protocol number out of range', { protocol: '256' }, 'SecurityGroupRuleInvalidProtocol'],
    ['unknown protocol name', { protocol: 'bogus' }, 'SecurityGroupRuleInvalidProtocol'],
    ['ports without protocol', { port_range_min: 22, port_range_max: 22 }, 'SecurityGroupProtocolRequiredWithPorts'],
    ['tcp min > max', { protocol: 'tcp', port_range_min: 100, port_range_max: 99 }, 'SecurityGroupInvalidPortRange'],
    ['tcp only min', { protocol: 'tcp', port_range_min: 100 }, 'SecurityGroupInvalidPortRange'],
    ['tcp port 0', { protocol: 'tcp', port_range_min: 0, port_range_max: 10 }, 'SecurityGroupInvalidPortValue'],
    ['port above 65535', { protocol: 'udp', port_range_min: 1, port_range_max: 65536 }, 'SecurityGroupInvalidPortValue'],
    ['port not a number', { protocol: 'udp', port_range_min: 'x', port_range_max: 2 }, 'SecurityGroupInvalidPortValue'],
    ['icmp type and code', { protocol: 'icmp', port_range_min: 8, port_range_max: 0 }, 'ok'],
    ['icmp type only', { protocol: 'icmp', port_range_min: 8 }, 'ok'],
    ['icmp type 256', { protocol: 'icmp', port_range_min: 256 }, 'SecurityGroupInvalidIcmpValue'],
    ['icmp code 300', { protocol: 'icmp', port_range_min: 3, port_range_max: 300 }, 'SecurityGroupInvalidIcmpValue'],
    ['icmp code without type', { protocol: 'icmp', port_range_max: 0 }, 'SecurityGroupMissingIcmpType'],
    ['ipv6-icmp on IPv4', { protocol: 'ipv6-icmp' }, 'SecurityGroupEthertypeConflictWithProtocol'],
    ['ipv6-icmp on IPv6', { protocol: 'ipv6-icmp', ethertype: 'IPv6' }, 'ok'],
    ['gre with a port range', { protocol: 'gre', port_range_min: 1, port_range_max: 2 }, 'SecurityGroupInvalidProtocolForPortRange'],
    ['bad direction', { direction: 'sideways' }, 'HTTPBadRequest'],
    ['bad ethertype', { ethertype: 'IPv5' }, 'SecurityGroupRuleInvalidEtherType'],
    ['ethertype lower-case', { ethertype: 'ipv6' }, 'ok'],
    ['IPv6 prefix on IPv4 rule', { remote_ip_prefix: '2001:db8::/64' }, 'SecurityGroupRuleParameterConflict'],
    ['IPv4 prefix on IPv6 rule', { ethertype: 'IPv6', remote_ip_prefix: '10.0.0.0/8' }, 'SecurityGroupRuleParameterConflict'],
    ['not a prefix', { remote_ip_prefix: '10.0.0.0/33' }, 'InvalidInput'],
    ['prefix and remote group', { remote_ip_prefix: '10.0.0.0/8', remote_group_id: RG }, 'SecurityGroupRemoteGroupAndRemoteIpPrefix'],
    ['remote group not a uuid', { remote_group_id: 'nope' }, 'HTTPBadRequest'],
    ['unknown attribute', { colour: 'blue' }, 'HTTPBadRequest'],
    ['group id not a uuid', { security_group_id: 'abc' }, 'HTTPBadRequest'],
    ['description too long', { description: 'x'.repeat(256) }, 'HTTPBadRequest'],
  ])('%s', (_name, extra, expected) => {
    expect(outcome(extra)).toBe(expected)
  })

  it('requires security_group_id and direction', () => {
    expect(() => validateRule({ direction: 'ingress' })).toThrow(/security_group_id/)
    expect(() => validateRule({ security_group_id: SG })).toThrow(/direction/)
  })

  it('normalises the remote prefix and the protocol', () => {
    const r = validateRule({ ...base, protocol: 'TCP', port_range_min: '22', port_range_max: 22, remote_ip_prefix: '10.1.2.3/16' })
    expect(r).toMatchObject({ protocol: 'tcp', portRangeMin: 22, portRangeMax: 22, remoteIpPrefix: '10.1.0.0/16', ethertype: 'IPv4' })
    expect(validateRule({ ...base, protocol: 'any' }).protocol).toBeNull()
  })

  it('gives tcp and 6, and 0.0.0.0/0 and no prefix, the same fingerprint', () => {
    const a = validateRule({ ...base, protocol: 'tcp', port_range_min: 80, port_range_max: 80 })
    const b = validateRule({ ...base, protocol: '6', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '0.0.0.0/0', description: 'web' })
    const c = validateRule({ ...base, protocol: 'udp', port_range_min: 80, port_range_max: 80 })
    expect(ruleFingerprint(a)).toBe(ruleFingerprint(b))
    expect(ruleFingerprint(a)).not.toBe(ruleFingerprint(c))
  })
})

describe('prefix normalisation', () => {
  it.each([
    ['10.0.0.5/24', '10.0.0.0/24'],
    ['10.0.0.5', '10.0.0.5/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8:0:0:1::1/64', '2001:db8::/64'],
    ['::/0', '::/0'],
    ['::ffff:10.0.0.1/128', '::ffff:a00:1/128'],
    ['fe80::1', 'fe80::1/128'],
    ['10.0.0.0/08', undefined],
    ['10.0.0.0/', undefined],
    ['1.2.3/24', undefined],
    ['2001:db8::/129', undefined],
    ['fe80::1%eth0/64', undefined],
  ])('%s -> %s', (input, expected) => {
    expect(normalizePrefix(input)).toBe(expected)
  })
})
