import Table from 'cli-table3'
import { stringify } from 'yaml'

/** Output formats: `table` for people, `json` and `yaml` for scripts. */
export const FORMATS = ['table', 'json', 'yaml'] as const
/** One of {@link FORMATS}. */
export type Format = (typeof FORMATS)[number]

/** A scalar a table cell shows. */
export type CellValue = string | number | boolean | null | undefined

/** One table of a command's human output. */
export interface TableSpec {
  readonly title?: string
  readonly head: readonly string[]
  readonly rows: ReadonlyArray<readonly CellValue[]>
  /** Printed instead of an empty table. */
  readonly empty?: string
}

/**
 * What a command produces: `data` is what json/yaml print (the admin API's objects, unchanged
 * where possible, so scripts can rely on docs/admin-api.md); `tables` and `lines` are the human
 * rendering; `warnings` go to stderr in every format; `exitCode` 1 marks a negative answer that
 * is not an error (e.g. `instance verify` of an instance its cell does not have).
 */
export interface CommandOutput {
  readonly data: unknown
  readonly tables?: readonly TableSpec[]
  readonly lines?: readonly string[]
  readonly warnings?: readonly string[]
  readonly exitCode?: 0 | 1
}

/** `null`/`undefined` as `-`, booleans as yes/no, numbers as they are. */
export function cellText(v: CellValue): string {
  if (v === null || v === undefined || v === '') return '-'
  if (typeof v === 'boolean') return v ? 'yes' : 'no'
  return String(v)
}

/** One table as text: box-drawing borders, no colours (output is often piped). */
export function renderTable(spec: TableSpec): string {
  if (spec.rows.length === 0 && spec.empty !== undefined) return spec.title === undefined ? spec.empty : `${spec.title}\n${spec.empty}`
  const table = new Table({ head: [...spec.head], style: { head: [], border: [] } })
  for (const row of spec.rows) table.push(row.map(cellText))
  const text = table.toString()
  return spec.title === undefined ? text : `${spec.title}\n${text}`
}

/** Renders a command's output in `format` (ends with a newline unless empty). */
export function render(out: CommandOutput, format: Format): string {
  if (format === 'json') return `${JSON.stringify(out.data, null, 2)}\n`
  if (format === 'yaml') return stringify(out.data)
  const parts = [...(out.tables ?? []).map(renderTable), ...(out.lines ?? [])]
  return parts.length === 0 ? '' : `${parts.join('\n')}\n`
}

/** Seconds as a short age: `0.4s`, `12s`, `3m`, `2h`, `never`. */
export function formatAge(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return 'never'
  if (seconds < 10) return `${seconds.toFixed(1)}s`
  if (seconds < 120) return `${Math.round(seconds)}s`
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`
  return `${Math.round(seconds / 3600)}h`
}
