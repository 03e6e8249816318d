import type { CellView } from '../../api-cell/admin/cell-views.js'
import type { Discovery, HostView } from '../../api-cell/admin/host-operations.js'
import { seg } from './admin-client.js'
import type { CommandSpec } from './command.js'
import { str } from './command.js'
import type { TableSpec } from './output.js'
import { Progress } from './progress.js'

/** The host listing. */
export function hostListTable(hosts: readonly HostView[]): TableSpec {
  return {
    head: ['HOST', 'CELL', 'MAPPED', 'STATE', 'DISABLED', 'INSTANCES', 'VCPU USED/TOTAL', 'RAM USED/TOTAL (MiB)'],
    rows: hosts.map((h) => [
      h.host,
      h.cell_path,
      h.mapped_cell === null ? 'no' : h.mapped_cell === h.cell_path ? 'yes' : `to ${h.mapped_cell}`,
      h.state,
      h.disabled,
      h.instances,
      `${h.vcpus_used}/${h.vcpus}`,
      `${h.memory_mb_used}/${h.memory_mb}`,
    ]),
    empty: 'No hosts.',
  }
}

/** Merges per-region discoveries. */
export function mergeDiscoveries(parts: readonly Discovery[]): Discovery {
  return {
    discovered: parts.flatMap((p) => p.discovered),
    already_mapped: parts.reduce((n, p) => n + p.already_mapped, 0),
    conflicts: parts.flatMap((p) => p.conflicts),
    unreachable: parts.flatMap((p) => p.unreachable),
  }
}

/** `cellctl host ...` */
export const HOST_COMMANDS: readonly CommandSpec[] = [
  {
    name: ['host', 'list'],
    summary: 'list compute hosts as the cells report them, with their mappings',
    args: [],
    options: { cell: { type: 'string', value: 'PATH', help: "only this cell's subtree" } },
    async run(c) {
      const cell = str(c, 'cell')
      const r = await (await c.client()).request<{ hosts: HostView[]; unreachable: string[] }>('GET', `/hosts${cell === undefined ? '' : `?cell=${seg(cell)}`}`)
      return { data: r, tables: [hostListTable(r.hosts)], warnings: r.unreachable.map((p) => `${p} did not answer: its hosts are missing`) }
    },
  },
  {
    name: ['host', 'discover'],
    summary: 'map the compute hosts the cells report that are not mapped yet',
    args: [],
    options: { cell: { type: 'string', value: 'PATH', help: "only this cell's subtree (default: every region)" } },
    details: 'Idempotent: running it twice, or concurrently, maps every host once. Shows progress per region on a terminal.',
    async run(c) {
      const client = await c.client()
      const cell = str(c, 'cell')
      const scopes =
        cell !== undefined
          ? [cell]
          : (await client.request<{ cells: CellView[] }>('GET', '/cells')).cells.filter((v) => v.parent_path === 'api').map((v) => v.path)
      const progress = new Progress(c.progress, scopes.length, 'discovering hosts')
      const parts: Discovery[] = []
      try {
        for (const scope of scopes) {
          progress.step(scope)
          parts.push(await client.request<Discovery>('POST', '/hosts/discover', { cell: scope }))
        }
      } finally {
        progress.done()
      }
      const r = mergeDiscoveries(parts)
      return {
        data: r,
        tables: [{ title: `Discovered ${r.discovered.length} new host(s); ${r.already_mapped} already mapped.`, head: ['HOST', 'CELL'], rows: r.discovered.map((d) => [d.host, d.cell_path]), empty: '' }],
        warnings: [
          ...r.conflicts.map((x) => `${x.host} is reported by ${x.reported_by} but mapped to ${x.mapped_to}: left as it is`),
          ...r.unreachable.map((p) => `${p} did not answer: its hosts were not discovered`),
        ],
      }
    },
  },
  {
    name: ['host', 'delete'],
    summary: "delete a host's mapping (refused while it has live instances)",
    args: ['HOST'],
    options: {},
    async run(c) {
      const r = await (await c.client()).request<{ deleted: string; cell_path: string }>('DELETE', `/hosts/${seg(c.args[0] ?? '')}`)
      return { data: r, lines: [`Deleted the mapping of host ${r.deleted} (cell ${r.cell_path}).`] }
    },
  },
]
