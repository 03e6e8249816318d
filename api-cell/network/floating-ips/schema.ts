import type { QuotaLockTables } from '../security-groups/network-quotas.js'

/** One floating IP (Neutron's `floatingips`). */
export interface FloatingIpsTable {
  id: string
  project_id: string
  floating_network_id: string
  floating_subnet_id: string
  floating_ip_address: string
  /** The associated port, or null (status DOWN). */
  port_id: string | null
  fixed_ip_address: string | null
  description: string
  status: string
  revision_number: number
  created_at: number
  updated_at: number
}

/**
 * The addresses floating IPs hold, one row per address: the primary key (subnet, address) is what
 * makes two concurrent allocations never hand out one address. When the port service keeps its
 * fixed IPs in a table with the same key, both should become one table (see the docs).
 */
export interface FloatingIpAllocationsTable {
  subnet_id: string
  ip_address: string
  floatingip_id: string
}

/** The tables of this folder, with the quota lock rows they share with security groups. */
export interface FloatingIpTables extends QuotaLockTables {
  floatingips: FloatingIpsTable
  floatingip_allocations: FloatingIpAllocationsTable
}
