import type { CapacityView } from '../../api-cell/admin/capacity-view.js'
import type { CellView } from '../../api-cell/admin/cell-views.js'
import type { InstanceVerification } from '../../api-cell/admin/instance-verify.js'
import { seg } from './admin-client.js'
import type { CommandSpec } from './command.js'
import { str } from './command.js'
import type { TableSpec } from './output.js'
import { cellShowTable } from './cell-commands.js'

/** Per cell, how many of each flavor fit. */
export function capacityTable(v: CapacityView): TableSpec {
  const names = v.flavors.map((f) => f.name)
  return {
    head: ['CELL', 'STATE', ...names],
    rows: v.cells.map((c) => [c.path, c.state, ...names.map((n) => c.fits[n] ?? 0)]),
    empty: 'No cell has reported capacity.',
  }
}

/** `instance verify`, `cell0 map` and `capacity`. */
export const MISC_COMMANDS: readonly CommandSpec[] = [
  {
    name: ['instance', 'verify'],
    summary: "print an instance's cell and whether that cell really has it",
    args: ['UUID'],
    options: {},
    details: 'Exit code 0 when the owning cell has the instance, 1 when it does not (or cannot be asked) or there is no mapping.',
    async run(c) {
      const { instance: i } = await (await c.client()).request<{ instance: InstanceVerification }>('GET', `/instances/${seg(c.args[0] ?? '')}/verify`)
      return {
        data: { instance: i },
        tables: [
          {
            head: ['FIELD', 'VALUE'],
            rows: [
              ['uuid', i.uuid],
              ['project', i.project_id],
              ['cell', i.cell_path],
              ['present in cell', i.present === null ? 'unknown' : i.present],
              ['vm state', i.vm_state],
              ['host', i.host],
              ['detail', i.detail],
            ],
          },
        ],
        exitCode: i.present === true ? 0 : 1,
      }
    },
  },
  {
    name: ['cell0', 'map'],
    summary: 'record cell0 (where unschedulable instances go) in the cells table',
    args: [],
    options: { 'database-url': { type: 'string', value: 'URL', help: "cell0's database (default: the API's configured one)" } },
    details: 'Idempotent.',
    async run(c) {
      const url = str(c, 'database-url')
      const r = await (await c.client()).request<{ cell: CellView; created: boolean }>('POST', '/cell0/map', url === undefined ? {} : { database_url: url })
      return { data: r, lines: [r.created ? 'cell0 mapped.' : 'cell0 was already mapped.'], tables: [cellShowTable(r.cell)] }
    },
  },
  {
    name: ['capacity'],
    summary: 'per cell, how many of a flavor (or of each) fit',
    args: [],
    options: { flavor: { type: 'string', value: 'NAME', help: 'flavor name or id (default: every flavor)' } },
    details: 'Counts are host by host (RAM, vCPU and disk together), from the latest capacity reports.',
    async run(c) {
      const flavor = str(c, 'flavor')
      const r = await (await c.client()).request<CapacityView>('GET', `/capacity${flavor === undefined ? '' : `?flavor=${encodeURIComponent(flavor)}`}`)
      return { data: r, tables: [capacityTable(r)] }
    },
  },
]
