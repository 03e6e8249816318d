import type { Selectable } from 'kysely'
import type { CellCapacity } from '../../shared/cell-link/types.js'
import { redactUrl } from '../../shared/db/database.js'
import { CELL0_PATH } from '../cells/cell0.js'
import { API_PATH } from '../cells/cell-tree.js'
import type { CellsTable } from '../db/compute-schema.js'

/** How an operator sees a cell: disabled by them, up (reporting in time) or down. */
export const CELL_STATES = ['up', 'down', 'disabled'] as const
/** One of {@link CELL_STATES}. */
export type CellState = (typeof CELL_STATES)[number]

/** One cell as the admin API shows it (snake_case, as OpenStack APIs do). */
export interface CellView {
  readonly uuid: string
  readonly path: string
  readonly name: string
  readonly parent_path: string | null
  readonly region: string | null
  readonly grpc_address: string | null
  /** Passwords in URLs are never shown. */
  readonly database_url: string | null
  readonly transport_url: string | null
  readonly state: CellState
  readonly disabled_reason: string | null
  readonly weight_offset: number
  readonly hosts_up: number
  readonly hosts_total: number
  readonly instances: number
  readonly free_ram_mb: number
  readonly free_vcpus: number
  readonly free_disk_gb: number
  /** Totals the free figures are out of (allocation ratios and reserves applied), for used/total bars. */
  readonly total_ram_mb: number
  readonly total_vcpus: number
  readonly total_disk_gb: number
  /** Seconds since the cell generated its latest report; null when it never reported. */
  readonly report_age_s: number | null
  /** Hosts the API maps to this very cell (host_mappings). */
  readonly mapped_hosts: number
  readonly created_at: string
  readonly updated_at: string
}

/** A cell with the cells below it. */
export type CellTreeNode = CellView & { readonly children: readonly CellTreeNode[] }

/** What a view needs besides the row. */
export interface ViewInputs {
  readonly reports: ReadonlyMap<string, CellCapacity>
  readonly mappedHosts: ReadonlyMap<string, number>
  /** Live instances per cell as the API's index knows them (cell0 has no reports). */
  readonly indexedInstances: ReadonlyMap<string, number>
  readonly now: number
}

const round1 = (n: number): number => Math.round(n * 10) / 10

/** The state of a cell: the operator's `disabled` wins, then the freshness of its report. */
export function stateOf(row: Pick<Selectable<CellsTable>, 'path' | 'disabled'>, report: CellCapacity | undefined): CellState {
  if (row.disabled === 1) return 'disabled'
  if (row.path === CELL0_PATH) return 'up'
  return report !== undefined && report.up ? 'up' : 'down'
}

/** Builds the view of one cell row. */
export function cellView(row: Selectable<CellsTable>, inputs: ViewInputs): CellView {
  const report = inputs.reports.get(row.path)
  const age = report === undefined || report.generatedAtMs === 0 ? null : round1(Math.max(0, inputs.now - report.generatedAtMs) / 1000)
  return {
    uuid: row.uuid,
    path: row.path,
    name: row.name,
    parent_path: row.parent_path,
    region: row.region,
    grpc_address: row.grpc_address,
    database_url: row.database_url === null ? null : redactUrl(row.database_url),
    transport_url: row.transport_url === null ? null : redactUrl(row.transport_url),
    state: stateOf(row, report),
    disabled_reason: row.disabled === 1 ? row.disabled_reason : null,
    weight_offset: row.weight_offset,
    hosts_up: report?.hostsUp ?? 0,
    hosts_total: report?.hostsTotal ?? 0,
    instances: report?.instances ?? inputs.indexedInstances.get(row.path) ?? 0,
    free_ram_mb: Math.floor(report?.ramFreeMb ?? 0),
    free_vcpus: round1(report?.vcpusFree ?? 0),
    free_disk_gb: Math.floor(report?.diskFreeGb ?? 0),
    total_ram_mb: Math.floor(report?.ramTotalMb ?? 0),
    total_vcpus: round1(report?.vcpusTotal ?? 0),
    total_disk_gb: Math.floor(report?.diskTotalGb ?? 0),
    report_age_s: age,
    mapped_hosts: inputs.mappedHosts.get(row.path) ?? 0,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  }
}

/**
 * Nests views under their parents. Regions (children of the API cell), cell0 and cells whose
 * parent is not registered are roots. Siblings sort by path.
 */
export function nestCells(views: readonly CellView[]): CellTreeNode[] {
  const byParent = new Map<string, CellView[]>()
  const paths = new Set(views.map((v) => v.path))
  const roots: CellView[] = []
  for (const v of views) {
    const parent = v.parent_path
    if (parent === null || parent === API_PATH || !paths.has(parent)) roots.push(v)
    else byParent.set(parent, [...(byParent.get(parent) ?? []), v])
  }
  const build = (v: CellView): CellTreeNode => ({
    ...v,
    children: (byParent.get(v.path) ?? []).sort((a, b) => a.path.localeCompare(b.path)).map(build),
  })
  return roots.sort((a, b) => a.path.localeCompare(b.path)).map(build)
}
