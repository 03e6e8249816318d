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
  deleted_at: number | null
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
