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
  unshelve_moves: UnshelveMovesTable
  flavors: FlavorsTable
  flavor_extra_specs: FlavorExtraSpecsTable
  instance_index: InstanceIndexTable
  legacy_ids: LegacyIdsTable
  flavor_projects: FlavorProjectsTable
  key_pairs: KeyPairsTable
  instance_groups: InstanceGroupsTable
  instance_group_members: InstanceGroupMembersTable
  quotas: QuotasTable
  quota_classes: QuotaClassesTable
  quota_locks: QuotaLocksTable
  quota_instance_usage: QuotaInstanceUsageTable
  aggregates: AggregatesTable
  aggregate_hosts: AggregateHostsTable
  aggregate_metadata: AggregateMetadataTable
  cross_cell_migrations: CrossCellMigrationsTable
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

/**
 * An unshelve into another cell under way (one per instance). `step`: `placing` (the build is
 * being sent to `ranked` cells; `target_cell` is the one last sent to without a definite answer),
 * `moving` (placed on `target_cell`: the mapping and the index move next), `dropping` (the source
 * cell's offloaded record is deleted next). The row goes once the move is over or refused.
 */
export interface UnshelveMovesTable {
  instance_uuid: string
  source_cell: string
  target_cell: string | null
  target_host: string | null
  step: 'placing' | 'moving' | 'dropping'
  /** The regions to try, best first (JSON array of cell paths). */
  ranked: string
  /** The BuildSpec sent to the target cell, as JSON. */
  spec: string
  /** The unshelve's arguments for the source cell if every other cell refuses (JSON), or null. */
  fallback?: string | null
  created_at: number
}

export interface BuildRequestsTable {
  instance_uuid: string
  project_id: string
  /** The BuildSpec as JSON. */
  spec: string
  /** The region the request was scoped to (region endpoint), or null (global). */
  region: string | null
  /**
   * The child cell the build was last sent to without a definite answer yet (null when none):
   * asked first again, so that a lost answer never places the build twice.
   */
  dispatch_cell?: string | null
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
  /** Server tags (2.26), a JSON array of strings. */
  tags: Generated<string>
}

/**
 * Integer ids for things the cells identify by uuid (hypervisors, services) or by name
 * (availability zones shown as aggregates), assigned at first sight: compute API microversions
 * before 2.53 need integer ids, and each cell's own autoincrement ids collide across cells.
 */
export interface LegacyIdsTable {
  id: Generated<number>
  /** `hypervisor`, `service`, `aggregate` or `migration` (a cross-cell move). */
  kind: string
  /** The compute node or service uuid, or the zone name. */
  ref: string
  /** The cell that owns it (null for zones, which may span cells). */
  cell_path: string | null
  created_at: number
}

/** Projects that may use a private flavor (`os-flavor-access`). */
export interface FlavorProjectsTable {
  /** `flavors.id` (the integer key, not the API's flavorid). */
  flavor_id: number
  project_id: string
  created_at: number
}

/** An SSH or x509 key pair (`os-keypairs`): names are unique per user, not per project. */
export interface KeyPairsTable {
  id: Generated<number>
  name: string
  user_id: string
  fingerprint: string
  public_key: string
  /** `ssh` or `x509`. */
  type: string
  created_at: number
  updated_at: number | null
}

/** A server group (`os-server-groups`), one policy each (the 2.64 model; older versions see a list). */
export interface InstanceGroupsTable {
  id: Generated<number>
  uuid: string
  name: string
  project_id: string
  user_id: string
  /** `affinity`, `anti-affinity`, `soft-affinity` or `soft-anti-affinity`. */
  policy: string
  /** JSON object: `{}` or `{"max_server_per_host": N}`. */
  rules: string
  created_at: number
  updated_at: number
}

/** Membership of an instance in a server group (an instance is in at most one group). */
export interface InstanceGroupMembersTable {
  instance_uuid: string
  group_id: number
  created_at: number
}

/** Quota overrides: a project's limit (`user_id` empty) or a user's within a project. -1 = unlimited. */
export interface QuotasTable {
  project_id: string
  user_id: string
  resource: string
  hard_limit: number
  updated_at: number
}

/** Quota class limits (`os-quota-class-sets`): the `default` class overrides the built-in defaults. */
export interface QuotaClassesTable {
  class_name: string
  resource: string
  hard_limit: number
  updated_at: number
}

/**
 * One row per quota scope (`project:<id>`, `user:<id>`): quota checks first bump its generation,
 * which takes a row lock (MySQL) or the write lock (SQLite) until commit, so two checks of the same
 * scope never count usage at the same time.
 */
export interface QuotaLocksTable {
  scope: string
  generation: number
}

/** What an instance consumes, as charged at boot (survives the deletion of its flavor). */
export interface QuotaInstanceUsageTable {
  instance_uuid: string
  project_id: string
  user_id: string
  vcpus: number
  memory_mb: number
}

/**
 * Host aggregates created through `/os-aggregates` (the availability zones of the cell tree are
 * listed beside them, not stored here). `legacy_id` is the integer id the API shows, allocated in
 * the `aggregate` kind of legacy_ids so that it never collides with a zone's.
 */
export interface AggregatesTable {
  uuid: string
  legacy_id: number
  name: string
  created_at: number
  updated_at: number | null
}

/** Hosts of an aggregate (a compute host's name, as in host_mappings). */
export interface AggregateHostsTable {
  aggregate_uuid: string
  host: string
}

/** Metadata of an aggregate; `availability_zone` is one of its keys, as in Nova. */
export interface AggregateMetadataTable {
  aggregate_uuid: string
  key: string
  value: string
}

/**
 * A cold migration or resize from one cell to another, driven by the API cell as a saga
 * (api-cell/compute/cross-cell/saga.ts): one row per move, its step in `status`, so that a
 * restarted API resumes it where it was.
 */
export interface CrossCellMigrationsTable {
  uuid: string
  instance_uuid: string
  /** `instance_uuid` while the move is unfinished, null after (unique: one move at a time per instance). */
  active_instance: string | null
  /** `migration` (cold migration) or `resize`. */
  migration_type: string
  /** The saga's step (Nova's migration statuses, plus `preparing` and `compensating`). */
  status: string
  source_cell: string
  /** Null until a target cell is chosen. */
  target_cell: string | null
  source_host: string
  source_node: string
  dest_host: string | null
  dest_node: string | null
  /** A host an admin named (migrate 2.56): only that one may take the instance. */
  requested_host: string | null
  old_flavor: string
  new_flavor: string
  previous_vm_state: string
  /** The source's record, key data and instance actions, as the target needs them (JSON). */
  instance: string
  /** Target cells still to try should the current one refuse, best first (JSON array). */
  tried_cells: string
  /** 1: confirmed as soon as it reaches VERIFY_RESIZE (cellctl cell drain). */
  auto_confirm: number
  message: string | null
  project_id: string
  user_id: string
  created_at: number
  updated_at: number
}
