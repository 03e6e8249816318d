import type { CellTreeNode, CellView } from '../../api-cell/admin/cell-views.js'
import { seg } from './admin-client.js'
import type { CommandContext, CommandSpec } from './command.js'
import { str } from './command.js'
import type { CellValue, CommandOutput, TableSpec } from './output.js'
import { formatAge } from './output.js'
import type { DrainProgress } from '../../api-cell/admin/cell-drain.js'
import { issueForNewCell, PKI_DIR_OPTION } from './pki-commands.js'
import { UsageError } from './usage-error.js'

const CAPACITY_HEAD = ['STATE', 'HOSTS UP/TOTAL', 'INSTANCES', 'FREE RAM (MiB)', 'FREE VCPU', 'FREE DISK (GiB)', 'REPORT AGE'] as const

const capacityCells = (v: CellView): CellValue[] => [
  v.state,
  `${v.hosts_up}/${v.hosts_total}`,
  v.instances,
  v.free_ram_mb,
  v.free_vcpus,
  v.free_disk_gb,
  formatAge(v.report_age_s),
]

/** The flat listing. */
export function cellListTable(cells: readonly CellView[]): TableSpec {
  return { head: ['PATH', 'REGION', ...CAPACITY_HEAD], rows: cells.map((v) => [v.path, v.region, ...capacityCells(v)]), empty: 'No cells.' }
}

/** The indented tree: each cell's name under its parent, with `├─`/`└─` guides. */
export function cellTreeTable(roots: readonly CellTreeNode[]): TableSpec {
  const rows: CellValue[][] = []
  const walk = (n: CellTreeNode, prefix: string, last: boolean, depth: number): void => {
    const label = depth === 0 ? n.path : `${prefix}${last ? '└─ ' : '├─ '}${n.name}`
    rows.push([label, n.region, ...capacityCells(n)])
    const childPrefix = depth === 0 ? '' : `${prefix}${last ? '   ' : '│  '}`
    n.children.forEach((c, i) => walk(c, childPrefix, i === n.children.length - 1, depth + 1))
  }
  roots.forEach((r) => walk(r, '', true, 0))
  return { head: ['CELL', 'REGION', ...CAPACITY_HEAD], rows, empty: 'No cells.' }
}

/** One cell, field by field. */
export function cellShowTable(v: CellView): TableSpec {
  return {
    head: ['FIELD', 'VALUE'],
    rows: [
      ['path', v.path],
      ['name', v.name],
      ['uuid', v.uuid],
      ['parent', v.parent_path],
      ['region', v.region],
      ['state', v.state],
      ['disabled reason', v.disabled_reason],
      ['grpc address', v.grpc_address],
      ['database url', v.database_url],
      ['transport url', v.transport_url],
      ['weight offset', v.weight_offset],
      ['hosts up/total', `${v.hosts_up}/${v.hosts_total}`],
      ['mapped hosts', v.mapped_hosts],
      ['instances', v.instances],
      ['free RAM (MiB)', v.free_ram_mb],
      ['free vCPU', v.free_vcpus],
      ['free disk (GiB)', v.free_disk_gb],
      ['report age', formatAge(v.report_age_s)],
      ['created', v.created_at],
      ['updated', v.updated_at],
    ],
  }
}

const path = (c: CommandContext): string => c.args[0] ?? ''

/** How often `cell drain --wait` asks for progress. */
const DRAIN_POLL_MS = 1000

/** A drain's outcome: n of m moved, and each failure with its reason. */
function drainOutput(p: DrainProgress, waited: boolean): CommandOutput {
  const lines = [
    `Cell ${p.cell}: ${p.moved} of ${p.total} instance(s) moved out, ${p.moving} moving, ${p.remaining} still in the cell.`,
    ...(waited || p.moving === 0 ? [] : ['The moves go on in the background: see progress with cellctl cell drain PATH --wait.']),
  ]
  const tables: TableSpec[] = p.failed.length === 0 ? [] : [{ head: ['INSTANCE', 'WHY IT DID NOT MOVE'], rows: p.failed.map((f) => [f.instance, f.reason]) }]
  return { data: { drain: p }, lines, tables, ...(p.failed.length > 0 || (waited && p.remaining > 0) ? { exitCode: 1 as const } : {}) }
}

/** A number flag, or a usage error. */
function numberFlag(c: CommandContext, name: string, command: string): number | undefined {
  const v = str(c, name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${v}`, command)
  return n
}

type Change = { cell: CellView; warnings: string[] }
const changed = (r: Change): CommandOutput => ({ data: r, tables: [cellShowTable(r.cell)], warnings: r.warnings })

/** `cellctl cell ...` */
export const CELL_COMMANDS: readonly CommandSpec[] = [
  {
    name: ['cell', 'list'],
    summary: 'list every cell with its state and capacity',
    args: [],
    options: {},
    details: 'State is disabled (by an operator), up (reported in time) or down. Capacity is what the cell reported last.',
    async run(c) {
      const r = await (await c.client()).request<{ cells: CellView[] }>('GET', '/cells')
      return { data: r, tables: [cellListTable(r.cells)] }
    },
  },
  {
    name: ['cell', 'tree'],
    summary: 'show the cell tree, indented, with state and capacity',
    args: [],
    options: {},
    async run(c) {
      const r = await (await c.client()).request<{ tree: CellTreeNode[] }>('GET', '/cells/tree')
      return { data: r, tables: [cellTreeTable(r.tree)] }
    },
  },
  {
    name: ['cell', 'show'],
    summary: 'show one cell',
    args: ['PATH'],
    options: {},
    async run(c) {
      const r = await (await c.client()).request<{ cell: CellView }>('GET', `/cells/${seg(path(c))}`)
      return { data: r, tables: [cellShowTable(r.cell)] }
    },
  },
  {
    name: ['cell', 'create'],
    summary: 'register a new cell under a parent and make the parent watch it',
    args: [],
    options: {
      parent: { type: 'string', value: 'PATH', help: 'parent cell (api for a new region)' },
      name: { type: 'string', value: 'NAME', help: 'cell name: lowercase letters, digits and dashes' },
      'grpc-address': { type: 'string', value: 'HOST:PORT', help: "the new cell agent's gRPC address" },
      'database-url': { type: 'string', value: 'URL', help: "the cell's database (recorded for db sync)" },
      'transport-url': { type: 'string', value: 'URL', help: "the cell's message bus (recorded)" },
      'weight-offset': { type: 'string', value: 'N', help: 'scheduling preference among siblings (default 0)' },
      ...PKI_DIR_OPTION,
    },
    details:
      'Also issues the cell\'s certificate (mutual TLS) when the federation CA is in --state-dir and the cell has none. ' +
      'The cell agent must run (or start soon) at --grpc-address with that certificate; it shows as down until it reports.',
    async run(c) {
      const cmd = 'cell create'
      for (const required of ['parent', 'name', 'grpc-address']) {
        if (str(c, required) === undefined) throw new UsageError(`--${required} is required`, cmd)
      }
      const weight = numberFlag(c, 'weight-offset', cmd)
      const body = {
        cell: {
          parent: str(c, 'parent'),
          name: str(c, 'name'),
          grpc_address: str(c, 'grpc-address'),
          ...(str(c, 'database-url') === undefined ? {} : { database_url: str(c, 'database-url') }),
          ...(str(c, 'transport-url') === undefined ? {} : { transport_url: str(c, 'transport-url') }),
          ...(weight === undefined ? {} : { weight_offset: weight }),
        },
      }
      const r = await (await c.client()).request<{ cell: CellView }>('POST', '/cells', body)
      const cert = await issueForNewCell(c, r.cell.path)
      return {
        data: r,
        tables: [cellShowTable(r.cell)],
        ...(cert.line === undefined ? {} : { lines: [cert.line] }),
        ...(cert.warning === undefined ? {} : { warnings: [cert.warning] }),
      }
    },
  },
  {
    name: ['cell', 'update'],
    summary: "change a cell's display name, weight offset or gRPC address",
    args: ['PATH'],
    options: {
      name: { type: 'string', value: 'NAME', help: 'new display name (the path does not change)' },
      'weight-offset': { type: 'string', value: 'N', help: 'new weight offset' },
      'grpc-address': { type: 'string', value: 'HOST:PORT', help: "the cell agent's new address" },
    },
    async run(c) {
      const cmd = 'cell update'
      const weight = numberFlag(c, 'weight-offset', cmd)
      const cell = {
        ...(str(c, 'name') === undefined ? {} : { name: str(c, 'name') }),
        ...(weight === undefined ? {} : { weight_offset: weight }),
        ...(str(c, 'grpc-address') === undefined ? {} : { grpc_address: str(c, 'grpc-address') }),
      }
      if (Object.keys(cell).length === 0) throw new UsageError('nothing to update: give --name, --weight-offset or --grpc-address', cmd)
      return changed(await (await c.client()).request<Change>('PUT', `/cells/${seg(path(c))}`, { cell }))
    },
  },
  {
    name: ['cell', 'disable'],
    summary: 'stop sending new builds to a cell (at once, no restart)',
    args: ['PATH'],
    options: { reason: { type: 'string', value: 'TEXT', help: 'why (shown in cell show)' } },
    async run(c) {
      const reason = str(c, 'reason')
      if (reason === undefined || reason.trim() === '') throw new UsageError('--reason is required', 'cell disable')
      return changed(await (await c.client()).request<Change>('POST', `/cells/${seg(path(c))}/disable`, { reason }))
    },
  },
  {
    name: ['cell', 'enable'],
    summary: 'let a disabled cell take new builds again',
    args: ['PATH'],
    options: {},
    async run(c) {
      return changed(await (await c.client()).request<Change>('POST', `/cells/${seg(path(c))}/enable`, {}))
    },
  },
  {
    name: ['cell', 'drain'],
    summary: 'move every instance out of a cell (cross-cell cold migrations) for maintenance',
    args: ['PATH'],
    options: { wait: { type: 'boolean', help: 'wait until every move has ended, showing progress' } },
    details:
      'Disables the cell for new builds first, then migrates each of its instances to another cell (confirmed at once). ' +
      'Instances that cannot move (their state, no room elsewhere) are listed with the reason, and the exit code is 1. ' +
      'Moves copy no disk: the cells must share their instances\' storage. Running it again starts what is not moving yet.',
    async run(c) {
      const client = await c.client()
      const at = `/cells/${seg(path(c))}/drain`
      let p = (await client.request<{ drain: DrainProgress }>('POST', at, {})).drain
      if (c.values['wait'] !== true) return drainOutput(p, false)
      const failedAtStart = p.failed
      let shown = -1
      while (p.moving > 0) {
        if (p.moved !== shown && c.progress.isTTY === true) c.progress.write(`\rdraining ${p.cell}: ${p.moved} of ${p.total} moved`)
        shown = p.moved
        await new Promise((r) => setTimeout(r, DRAIN_POLL_MS))
        p = (await client.request<{ drain: DrainProgress }>('GET', `${at}?since=${p.started_at}`)).drain
      }
      if (shown >= 0 && c.progress.isTTY === true) c.progress.write('\n')
      const failed = [...failedAtStart.filter((f) => !p.failed.some((g) => g.instance === f.instance)), ...p.failed]
      return drainOutput({ ...p, total: Math.max(p.total, p.moved + p.remaining), failed }, true)
    },
  },
  {
    name: ['cell', 'delete'],
    summary: "delete a cell's mapping",
    args: ['PATH'],
    options: { force: { type: 'boolean', help: 'also drop empty mappings (stale host mappings, an unreachable empty cell)' } },
    details: 'Refuses while the cell has child cells, compute hosts or live instances. --force never deletes a cell that holds any.',
    async run(c) {
      const q = c.values['force'] === true ? '?force=true' : ''
      const r = await (await c.client()).request<{ deleted: string; dropped_host_mappings: number; warnings: string[] }>('DELETE', `/cells/${seg(path(c))}${q}`)
      const dropped = r.dropped_host_mappings > 0 ? ` (dropped ${r.dropped_host_mappings} host mapping(s))` : ''
      return { data: r, lines: [`Deleted cell ${r.deleted}${dropped}.`], warnings: r.warnings }
    },
  },
]
