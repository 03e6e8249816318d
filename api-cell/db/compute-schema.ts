import type { Generated } from 'kysely'

/**
 * The API cell's own compute tables: the cell tree's mappings, pending builds, flavors and the
 * instance index (for fast listing; the owning leaf keeps the truth). Times are epoch ms,
 * booleans 0/1, structured values JSON text.
 */
export interface ComputeTables {
  cells: CellsTable
  host_mappings: HostMappingsTable
  instance_mappings: InstanceMappingsTable
  build_requests: BuildRequestsTable
  flavors: FlavorsTable
  flavor_extra_specs: FlavorExtraSpecsTable
  instance_index: InstanceIndexTable
}

export interface CellsTable {
  uuid: string
  name: string
  /** `api!region-one!dc1`; `cell0` for the cell of unschedulable instances. */
  path: string
  parent_path: string | null
  region: string | null
  grpc_address: string | null
  database_url: string | null
  transport_url: string | null
  disabled: number
  disabled_reason: string | null
  weight_offset: number
  /** For direct children of the API cell: the last event cursor applied from their stream. */
  event_cursor: number
  created_at: number
  updated_at: number
}

export interface HostMappingsTable {
  host: string
  cell_path: string
  created_at: number
}

export interface InstanceMappingsTable {
  instance_uuid: string
  /** Null while the build is still looking for a cell. */
  cell_path: string | null
  project_id: string
  user_id: string
  region: string | null
  queued_for_delete: number
  created_at: number
}

export interface BuildRequestsTable {
  instance_uuid: string
  project_id: string
  /** The BuildSpec as JSON. */
  spec: string
  /** The region the request was scoped to (region endpoint), or null (global). */
  region: string | null
  created_at: number
}

export interface FlavorsTable {
  id: Generated<number>
  flavorid: string
  name: string
  memory_mb: number
  vcpus: number
  root_gb: number
  ephemeral_gb: number
  swap: number
  rxtx_factor: number
  is_public: number
  disabled: number
  description: string | null
  created_at: number
  updated_at: number
}

export interface FlavorExtraSpecsTable {
  flavor_id: number
  key: string
  value: string
}

export interface InstanceIndexTable {
  uuid: string
  project_id: string
  user_id: string
  name: string
  vm_state: string
  task_state: string | null
  power_state: number
  host: string | null
  availability_zone: string | null
  cell_path: string | null
  region: string | null
  flavor_id: string
  image_ref: string
  reservation_id: string
  version: number
  created_at: number
  updated_at: number
}
