import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import type { CellTreeNode, CellView } from '../../../../api-cell/admin/cell-views.js'
import { cellListTable, cellShowTable, cellTreeTable } from '../../../../bin/cellctl/cell-commands.js'
import { hostListTable, mergeDiscoveries } from '../../../../bin/cellctl/host-commands.js'
import { capacityTable } from '../../../../bin/cellctl/misc-commands.js'
import { cellText, formatAge, render, renderTable } from '../../../../bin/cellctl/output.js'

const view = (path: string, over: Partial<CellView> = {}): CellView => ({
  uuid: 'u',
  path,
  name: path.split('!').pop() ?? path,
  parent_path: path.slice(0, path.lastIndexOf('!')) || null,
  region: path.split('!')[1] ?? null,
  grpc_address: '127.0.0.1:1',
  database_url: null,
  transport_url: null,
  state: 'up',
  disabled_reason: null,
  weight_offset: 0,
  hosts_up: 3,
  hosts_total: 4,
  instances: 7,
  free_ram_mb: 1024,
  free_vcpus: 12.5,
  free_disk_gb: 100,
  total_ram_mb: 4096,
  total_vcpus: 64,
  total_disk_gb: 400,
  report_age_s: 0.4,
  mapped_hosts: 4,
  created_at: '2020-01-01T00:00:00.000Z',
  updated_at: '2020-01-01T00:00:00.000Z',
  ...over,
})

const node = (v: CellView, children: CellTreeNode[] = []): CellTreeNode => ({ ...v, children })

describe('cellctl output', () => {
  it.each([
    [null, '-'],
    [undefined, '-'],
    ['', '-'],
    [true, 'yes'],
    [false, 'no'],
    [0, '0'],
    [12.5, '12.5'],
    ['dc1', 'dc1'],
  ])('shows %j as %s in a table cell', (v, text) => {
    expect(cellText(v)).toBe(text)
  })

  it.each([
    [null, 'never'],
    [0.42, '0.4s'],
    [42, '42s'],
    [600, '10m'],
    [7200, '2h'],
  ])('formats a report age of %j seconds as %s', (s, text) => {
    expect(formatAge(s)).toBe(text)
  })

  it('draws a table with headers and rows, and the empty text when there are no rows', () => {
    const text = renderTable({ head: ['A', 'B'], rows: [['x', 1], ['y', null]] })
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/^┌─+┬─+┐$/)
    expect(text).toContain('│ A │ B │')
    expect(text).toContain('│ y │ - │')
    expect(text).not.toContain('\u001b[')
    expect(renderTable({ head: ['A'], rows: [], empty: 'Nothing.' })).toBe('Nothing.')
    expect(renderTable({ title: 'T', head: ['A'], rows: [], empty: 'Nothing.' })).toBe('T\nNothing.')
  })

  it('renders data as JSON or YAML, and tables plus lines for people', () => {
    const out = { data: { cells: [{ path: 'api!r1', n: 1 }] }, tables: [{ head: ['PATH'], rows: [['api!r1']] }], lines: ['done.'] }
    expect(JSON.parse(render(out, 'json'))).toEqual(out.data)
    expect(parse(render(out, 'yaml'))).toEqual(out.data)
    const table = render(out, 'table')
    expect(table).toContain('api!r1')
    expect(table.trimEnd().endsWith('done.')).toBe(true)
    expect(render({ data: {} }, 'table')).toBe('')
  })

  it('lists cells with hosts up/total, capacity and report age', () => {
    const t = cellListTable([view('api!r1'), view('api!r2', { state: 'disabled', report_age_s: null })])
    expect(t.head).toEqual(['PATH', 'REGION', 'STATE', 'HOSTS UP/TOTAL', 'INSTANCES', 'FREE RAM (MiB)', 'FREE VCPU', 'FREE DISK (GiB)', 'REPORT AGE'])
    expect(t.rows[0]).toEqual(['api!r1', 'r1', 'up', '3/4', 7, 1024, 12.5, 100, '0.4s'])
    expect(t.rows[1]?.[2]).toBe('disabled')
    expect(t.rows[1]?.[8]).toBe('never')
  })

  it('indents the tree with guides: children under their parent, the last one closed', () => {
    const tree = [
      node(view('api!r1'), [node(view('api!r1!dc1'), [node(view('api!r1!dc1!row1'))]), node(view('api!r1!dc2'))]),
      node(view('api!r2')),
    ]
    const labels = cellTreeTable(tree).rows.map((r) => r[0])
    expect(labels).toEqual(['api!r1', '├─ dc1', '│  └─ row1', '└─ dc2', 'api!r2'])
  })

  it('shows one cell field by field, hiding nothing but absent values', () => {
    const rows = cellShowTable(view('api!r1', { disabled_reason: 'maintenance', state: 'disabled' })).rows
    const byField = Object.fromEntries(rows.map((r) => [r[0], r[1]]))
    expect(byField['state']).toBe('disabled')
    expect(byField['disabled reason']).toBe('maintenance')
    expect(byField['hosts up/total']).toBe('3/4')
  })

  it('shows host mappings as yes, no or the other cell', () => {
    const h = { cell_path: 'api!r1', state: 'up' as const, disabled: false, instances: 0, vcpus: 4, vcpus_used: 1, memory_mb: 100, memory_mb_used: 10 }
    const t = hostListTable([
      { ...h, host: 'a', mapped_cell: 'api!r1' },
      { ...h, host: 'b', mapped_cell: null },
      { ...h, host: 'c', mapped_cell: 'api!r9' },
    ])
    expect(t.rows.map((r) => r[2])).toEqual(['yes', 'no', 'to api!r9'])
    expect(t.rows[0]?.[6]).toBe('1/4')
  })

  it('merges discoveries of several regions', () => {
    const m = mergeDiscoveries([
      { discovered: [{ host: 'a', cell_path: 'api!r1' }], already_mapped: 2, conflicts: [], unreachable: [] },
      { discovered: [], already_mapped: 3, conflicts: [{ host: 'x', mapped_to: 'api!r1', reported_by: 'api!r2' }], unreachable: ['api!r3'] },
    ])
    expect(m.discovered).toHaveLength(1)
    expect(m.already_mapped).toBe(5)
    expect(m.conflicts).toHaveLength(1)
    expect(m.unreachable).toEqual(['api!r3'])
  })

  it('puts one column per flavor in the capacity table', () => {
    const t = capacityTable({
      flavors: [
        { id: '1', name: 'm1.tiny' },
        { id: '2', name: 'm1.small' },
      ],
      cells: [{ path: 'api!r1', state: 'up', fits: { 'm1.tiny': 10, 'm1.small': 2 }, max_per_host: { 'm1.tiny': 5, 'm1.small': 1 } }],
    })
    expect(t.head).toEqual(['CELL', 'STATE', 'm1.tiny', 'm1.small'])
    expect(t.rows[0]).toEqual(['api!r1', 'up', 10, 2])
  })
})
