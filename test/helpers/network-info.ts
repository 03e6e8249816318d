import type { PortInfo } from '../../shared/network/network-info.js'

/** Two ports of a server as the API cell's network service would allocate them (see shared/network). */
export const PORT_A: PortInfo = {
  portId: '1a1b2c3d-4e5f-4a6b-8c7d-111111111111',
  networkId: 'aaaaaaaa-0000-4000-8000-000000000001',
  networkName: 'private',
  macAddress: 'fa:16:3e:00:00:0a',
  mtu: 1450,
  bridge: 'br-aaaaaaaa-00',
  fixedIps: [
    { subnetId: 's4', ipAddress: '10.0.0.5', version: 4, cidr: '10.0.0.0/24', gatewayIp: '10.0.0.1', dnsNameservers: ['10.0.0.2'], hostRoutes: [] },
    { subnetId: 's6', ipAddress: '2001:db8::5', version: 6, cidr: '2001:db8::/64', dnsNameservers: [], hostRoutes: [] },
  ],
  portSecurityEnabled: true,
  securityRules: [
    { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22, remoteIpPrefix: '192.0.2.0/24' },
    { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', portRangeMin: 8, portRangeMax: 0, remoteIpPrefix: null },
    { direction: 'egress', ethertype: 'IPv4', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null },
    { direction: 'egress', ethertype: 'IPv6', protocol: 'udp', portRangeMin: 53, portRangeMax: 53, remoteIpPrefix: '2001:db8::/32' },
  ],
}

/** A second port, without port security (no filter). */
export const PORT_B: PortInfo = {
  portId: '2a1b2c3d-4e5f-4a6b-8c7d-222222222222',
  networkId: 'bbbbbbbb-0000-4000-8000-000000000002',
  networkName: 'public',
  macAddress: 'fa:16:3e:00:00:0b',
  mtu: 1500,
  bridge: 'br-bbbbbbbb-00',
  fixedIps: [{ subnetId: 'p4', ipAddress: '203.0.113.7', version: 4, cidr: '203.0.113.0/24', dnsNameservers: [], hostRoutes: [] }],
  portSecurityEnabled: false,
  securityRules: [],
}

/** A third port, for attach: port security with one rule. */
export const PORT_C: PortInfo = {
  ...PORT_A,
  portId: '3a1b2c3d-4e5f-4a6b-8c7d-333333333333',
  macAddress: 'fa:16:3e:00:00:0c',
  bridge: 'br-cccccccc-00',
  fixedIps: [{ subnetId: 's4', ipAddress: '10.0.0.9', version: 4, cidr: '10.0.0.0/24', dnsNameservers: [], hostRoutes: [] }],
  securityRules: [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'udp', portRangeMin: 5000, portRangeMax: 5100, remoteIpPrefix: null }],
}
