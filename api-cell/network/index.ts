/**
 * Network (Neutron v2.0 subset) for the API cell: the network service (networks, subnets, ports,
 * race-free IPAM, quotas), its router, its migrations, and the allocator the compute API uses.
 * Other network features (security groups, floating IPs, the metadata service) build on these.
 */
export { PortAllocator } from './allocator.js'
export type { ServerAllocateArgs, ServerAllocation } from './allocator.js'
export { FEDERATION_NETWORK_NAME, regionNetworkName, seedRegionNetworks } from './bootstrap.js'
export { canModify, canSee, policyRefused } from './caller.js'
export type { NetCaller } from './caller.js'
export { badRequest, neutronErrorHandler, neutronFaultBody, NeutronError, notFound, overQuota } from './faults.js'
export { Ipam } from './ipam.js'
export { listBody, withFields } from './list-query.js'
export { networkMigrations } from './migrations.js'
export { callerOf, collectionUrl } from './network-routes.js'
export type { Wrap } from './network-routes.js'
export { DEFAULT_NETWORK_QUOTAS, NETWORK_QUOTA_RESOURCES, NetworkQuotas } from './quota-store.js'
export type { NetworkQuotaResource } from './quota-store.js'
export { networkApi } from './router.js'
export type { NetworkApiDeps } from './router.js'
export type { NetworkTables } from './schema.js'
export { NetworkService } from './service.js'
export { renderNetwork, renderPort, renderSubnet } from './views.js'
