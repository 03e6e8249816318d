/** The admin API's objects the dashboard reads (see docs/admin-api.md). */

/** How an operator sees a cell. */
export type CellState = 'up' | 'down' | 'disabled'

/** One cell (`GET /cell-admin/v1/cells/{path}`). */
export interface Cell {
  readonly path: string
  readonly name: string
  readonly parent_path: string | null
  readonly region: string | null
  readonly state: CellState
  readonly disabled_reason: string | null
  readonly hosts_up: number
  readonly hosts_total: number
  readonly instances: number
  readonly free_ram_mb: number
  readonly free_vcpus: number
  readonly free_disk_gb: number
  readonly total_ram_mb?: number
  readonly total_vcpus?: number
  readonly total_disk_gb?: number
  readonly report_age_s: number | null
}

/** A cell with the cells below it (`GET /cell-admin/v1/cells/tree`). */
export type CellNode = Cell & { readonly children: readonly CellNode[] }

/** A compute host (`GET /cell-admin/v1/hosts`). */
export interface Host {
  readonly host: string
  readonly cell_path: string
  readonly state: 'up' | 'down' | 'unknown'
  readonly disabled: boolean
  readonly instances: number
  readonly vcpus: number
  readonly vcpus_used: number
  readonly memory_mb: number
  readonly memory_mb_used: number
}

/** A build the global scheduler dispatched (`GET /cell-admin/v1/builds`). */
export interface Build {
  readonly instance_uuid: string
  readonly at: string
  readonly outcome: 'placed' | 'error'
  readonly cell_path: string
  readonly host: string | null
  readonly reasons: readonly string[]
  readonly refusals: ReadonlyArray<{ readonly cell_path: string; readonly reason: string; readonly at: string }>
}

/** A cell's outbox lag (`GET /cell-admin/v1/cells/{path}/outbox`). */
export interface Outbox {
  readonly pending: number | null
  readonly oldest_age_s: number | null
  readonly error: string | null
}

/** One server of the federation-wide list (`GET /cell-admin/v1/instances`). */
export interface Instance {
  readonly uuid: string
  readonly name: string
  readonly status: string
  readonly project_id: string
  readonly cell_path: string | null
  readonly host: string | null
  readonly flavor_id: string
  readonly created_at: string
}

/** `GET /cell-admin/v1/capacity`. */
export interface Capacity {
  readonly flavors: ReadonlyArray<{ readonly id: string; readonly name: string }>
  readonly cells: ReadonlyArray<{ readonly path: string; readonly state: CellState; readonly fits: Record<string, number>; readonly max_per_host: Record<string, number> }>
}
