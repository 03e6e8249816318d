import type { Generated } from 'kysely'

/**
 * The cell database. Times are epoch milliseconds, booleans 0/1, structured values JSON text.
 * Only the conductor (and the scheduler, for claims) opens it; compute never does.
 */
export interface CellSchema {
  services: ServicesTable
  compute_nodes: ComputeNodesTable
  instances: InstancesTable
  allocations: AllocationsTable
  instance_actions: InstanceActionsTable
  instance_action_events: InstanceActionEventsTable
  outbox: OutboxTable
  instance_index: RelayIndexTable
  cell_state: CellStateTable
  build_specs: BuildSpecsTable
  server_group_hosts: ServerGroupHostsTable
  server_group_claims: ServerGroupClaimsTable
  migrations: MigrationsTable
}

export interface ServicesTable {
  id: Generated<number>
  uuid: string
  host: string
  binary: string
  topic: string
  disabled: number
  disabled_reason: string | null
  forced_down: number
  last_seen_up: number
  created_at: number
  updated_at: number
}

export interface ComputeNodesTable {
  id: Generated<number>
  uuid: string
  host: string
  hypervisor_hostname: string
  host_ip: string
  availability_zone: string
  vcpus: number
  memory_mb: number
  local_gb: number
  vcpus_used: number
  memory_mb_used: number
  local_gb_used: number
  running_vms: number
  cpu_allocation_ratio: number
  ram_allocation_ratio: number
  disk_allocation_ratio: number
  reserved_host_memory_mb: number
  reserved_host_disk_gb: number
  hypervisor_type: string
  hypervisor_version: number
  cpu_arch: string
  cpu_info: string
  generation: number
  created_at: number
  updated_at: number
}

export interface InstancesTable {
  uuid: string
  name: string
  hostname: string
  project_id: string
  user_id: string
  host: string | null
  node: string | null
  availability_zone: string | null
  /** The flavor as booted (JSON), as Nova keeps `instance.flavor`. */
  flavor: string
  flavor_id: string
  image_ref: string
  vm_state: string
  task_state: string | null
  power_state: number
  key_name: string | null
  key_data: string | null
  metadata: string
  user_data: string | null
  description: string | null
  reservation_id: string
  launch_index: number
  locked: number
  locked_by: string | null
  locked_reason: string | null
  config_drive: string
  access_ip_v4: string | null
  access_ip_v6: string | null
  fault: string | null
  /** Incremented by every change; the instance index at the top applies only newer versions. */
  version: number
  launched_at: number | null
  terminated_at: number | null
  created_at: number
  updated_at: number
  deleted: number
  /** Server tags (2.26), a JSON array of strings. */
  tags: string
  deleted_at: number | null
  /** The snapshot a shelved instance is unshelved from (Nova's `shelved_image_id` system metadata). */
  shelved_image_id: string | null
  /**
   * The instance's interfaces (shared/network/network-info.ts `NetworkInfo`, JSON) as its build
   * spec carried them; NULL: no network. Every spawn of its guest renders them.
   */
  network_info: string | null
}

export interface AllocationsTable {
  instance_uuid: string
  node_id: number
  memory_mb: number
  vcpus: number
  disk_gb: number
  created_at: number
}

export interface InstanceActionsTable {
  id: Generated<number>
  request_id: string
  instance_uuid: string
  action: string
  project_id: string
  user_id: string
  start_time: number
  finish_time: number | null
  message: string | null
}

export interface InstanceActionEventsTable {
  id: Generated<number>
  action_id: number
  event: string
  host: string | null
  start_time: number
  finish_time: number | null
  result: string | null
}

/** Upward events, written in the same transaction as the change they describe. */
export interface OutboxTable {
  id: Generated<number>
  instance_uuid: string
  version: number
  cell_path: string
  payload: string
  created_at: number
}

/** In an intermediate cell: which child holds an instance, and the newest version seen. */
export interface RelayIndexTable {
  uuid: string
  cell_path: string
  version: number
}

export interface CellStateTable {
  key: string
  value: string
}

/**
 * The build spec of an instance that is still building in this leaf, kept so that a failed spawn
 * can be retried on another host, or handed back up the tree with everything the next cell needs.
 * Deleted once the instance is ACTIVE, handed up, or deleted.
 */
export interface BuildSpecsTable {
  instance_uuid: string
  /** The BuildSpec as JSON. */
  spec: string
  /** Hosts already tried in this cell (JSON array), for RetryFilter. */
  tried_hosts: string
  /** One message per failed attempt (JSON array), for the final fault. */
  faults: string
  created_at: number
}

/**
 * Members of a server group per host in this cell, the counter a claim bumps in the same
 * transaction as the resources. `slot` is the host for anti-affinity (at most
 * `max_server_per_host` members per row) and `''` for affinity (one row per group: every member
 * on `host`).
 */
export interface ServerGroupHostsTable {
  group_uuid: string
  slot: string
  host: string
  members: number
}

/** Which group counter an instance holds, so that releasing its claim gives the slot back. */
export interface ServerGroupClaimsTable {
  instance_uuid: string
  group_uuid: string
  slot: string
}

/**
 * One move of an instance between hosts of this cell (resize, cold or live migration,
 * evacuation), after Nova's `migrations` table. While a resize or cold migration waits for
 * confirm or revert, the target host's resources are claimed under the migration's uuid (an
 * allocation row keyed by it) and the source host's under the instance's: both hosts hold a
 * claim until confirm (the source's is released) or revert (the target's is).
 */
export interface MigrationsTable {
  id: Generated<number>
  uuid: string
  instance_uuid: string
  /** `resize`, `migration`, `live-migration` or `evacuation` (Nova's migration_type). */
  migration_type: string
  /** Nova's statuses: pre-migrating, migrating, post-migrating, finished, confirming, confirmed, reverting, reverted, running, completed, done, error, failed, cancelled. */
  status: string
  source_host: string
  source_node: string
  dest_host: string | null
  dest_node: string | null
  /** The flavor before (JSON FlavorSnapshot) and the one asked for (the same for a migration). */
  old_flavor: string
  new_flavor: string
  /** The vm_state the instance had when the move began (a stopped instance stays stopped). */
  previous_vm_state: string
  project_id: string
  user_id: string
  created_at: number
  updated_at: number
}
