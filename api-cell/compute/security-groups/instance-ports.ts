import type { SecurityGroupStore } from '../../network/security-groups/security-group-store.js'

/** One port of a server, as Nova's security group actions need it. */
export interface InstancePort {
  readonly id: string
  /** Neutron's `port_security_enabled`: groups cannot be applied to a port without it. */
  readonly portSecurityEnabled: boolean
}

/**
 * The ports of a server (Neutron's ports whose `device_id` is the server), implemented by the
 * port service in api-cell/network. `groupsChanged` is told when an `addSecurityGroup` /
 * `removeSecurityGroup` action changed a server's groups, so the rules can reach its host.
 */
export interface InstancePorts {
  portsOf(instanceUuid: string): Promise<readonly InstancePort[]>
  groupsChanged?(instanceUuid: string): Promise<void>
}

/**
 * What Nova's security group proxies (`os-security-groups`, `os-security-group-rules`, up to
 * 2.35) and server security group routes (any version) work with: the network service's store.
 */
export interface NovaSecurityGroups {
  readonly store: SecurityGroupStore
  readonly ports: InstancePorts
}
