import type { Kysely } from 'kysely'
import { Ipam } from './ipam.js'
import { NetworkStore } from './network-store.js'
import type { PortSecurity } from './port-security.js'
import { PortStore } from './port-store.js'
import { NetworkQuotas } from './quota-store.js'
import type { NetworkTables } from './schema.js'

/**
 * The network service of the API cell: one object holding its stores, built once per process over
 * the API database and shared by the Neutron router, the allocator the compute API uses, and the
 * services other parts mount (security groups, floating IPs, metadata).
 */
export class NetworkService {
  readonly db: Kysely<NetworkTables>
  readonly quotas: NetworkQuotas
  readonly ipam: Ipam
  readonly networks: NetworkStore
  readonly ports: PortStore
  /** Security groups of ports (absent: ports keep their groups as plain ids, rules are empty). */
  readonly security: PortSecurity | undefined

  constructor(db: Kysely<NetworkTables>, opts: { readonly security?: PortSecurity } = {}) {
    this.db = db
    this.quotas = new NetworkQuotas(db)
    this.ipam = new Ipam(db)
    this.networks = new NetworkStore(db, this.quotas)
    this.security = opts.security
    this.ports = new PortStore({ db, networks: this.networks, ipam: this.ipam, quotas: this.quotas, ...(opts.security === undefined ? {} : { security: opts.security }) })
  }
}
