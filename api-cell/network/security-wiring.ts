import type { Router } from 'express'
import type { Kysely } from 'kysely'
import type { NovaSecurityGroups } from '../compute/security-groups/instance-ports.js'
import { authMiddleware } from '../identity/auth.js'
import type { ErrorLogger } from '../identity/http-errors.js'
import type { TokenService } from '../identity/tokens.js'
import { FloatingIpStore } from './floating-ips/floating-ip-store.js'
import { floatingIpRouter } from './floating-ips/router.js'
import type { FloatingIpTables } from './floating-ips/schema.js'
import { PortNetworkDirectory, ServerPorts } from './port-directory.js'
import { PortSecurity } from './port-security.js'
import { NetworkQuotas } from './quota-store.js'
import { securityGroupRouter } from './security-groups/router.js'
import type { SecurityGroupTables } from './security-groups/schema.js'
import { SecurityGroupStore } from './security-groups/security-group-store.js'
import type { NetworkTables } from './schema.js'

/** Every table of the network service: N1's core, security groups, floating IPs. */
export type AllNetworkTables = NetworkTables & SecurityGroupTables & FloatingIpTables

/** Security groups and floating IPs as the API cell runs them over the port service's tables. */
export interface NetworkSecurity {
  /** Handed to the `NetworkService`: ports bind groups, the allocator fills `securityRules`. */
  readonly ports: PortSecurity
  readonly groups: SecurityGroupStore
  readonly floatingIps: FloatingIpStore
  /** For the compute API's `securityGroups` (Nova's proxies and server actions). */
  readonly nova: NovaSecurityGroups
  /** `/v2.0/security-groups`, `/v2.0/security-group-rules`, `/v2.0/floatingips`, authenticated. */
  readonly routers: readonly Router[]
}

/**
 * Builds the security group and floating IP services over the one API database, with the network
 * quota overrides as their limits. Kept apart from network-runtime.ts (the listener) so that the
 * embedded and production API processes and tests wire them the same way.
 */
export function networkSecurity(a: { readonly db: Kysely<AllNetworkTables>; readonly tokens: TokenService; readonly logger?: ErrorLogger }): NetworkSecurity {
  const limits = new NetworkQuotas(a.db)
  // Rules reach the hosts with each build; pushing changed rules to running servers is not done yet.
  const groups = new SecurityGroupStore({ db: a.db, limits })
  const floatingIps = new FloatingIpStore({ db: a.db, directory: new PortNetworkDirectory(a.db), limits })
  const auth = authMiddleware(a.tokens)
  const logger = a.logger === undefined ? {} : { logger: a.logger }
  return {
    ports: new PortSecurity({ db: a.db, groups, floatingIps }),
    groups,
    floatingIps,
    nova: { store: groups, ports: new ServerPorts(a.db) },
    routers: [securityGroupRouter({ store: groups, auth, ...logger }), floatingIpRouter({ store: floatingIps, auth, ...logger })],
  }
}
