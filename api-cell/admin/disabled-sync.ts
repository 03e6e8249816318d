import { systemContext } from '../../shared/context.js'
import { askCell, messageOf } from './cell-admin-call.js'
import { reportsByPath } from './cell-reads.js'
import type { AdminDeps } from './deps.js'

/** At most one reconciliation per this interval, however often reports arrive. */
const MIN_INTERVAL_MS = 1000
/** A cell that did not take its flag is told again after this long. */
const RETRY_MS = 5000

/**
 * Keeps each cell's own `disabled` flag equal to the API's cells table. A cell agent keeps the
 * flag in memory, so one that restarted reports itself enabled: when a report disagrees with the
 * table, the cell is told again (CellAdmin `set_disabled`, idempotent). Runs on capacity reports;
 * returns the function that stops it.
 */
export function syncDisabledFlags(d: AdminDeps): () => void {
  const told = new Map<string, number>()
  let running = false
  let lastRun = 0
  const run = async (): Promise<void> => {
    const rows = await d.db.selectFrom('cells').select(['path', 'disabled']).execute()
    const reports = reportsByPath(d.tree)
    const now = Date.now()
    for (const r of rows) {
      const report = reports.get(r.path)
      const want = r.disabled === 1
      if (report === undefined || !report.up || report.disabled === want) {
        told.delete(r.path)
        continue
      }
      if (now - (told.get(r.path) ?? 0) < RETRY_MS) continue
      told.set(r.path, now)
      const ctx = systemContext()
      d.log.info({ requestId: ctx.requestId, cell: r.path, disabled: want }, 'cell reports a stale disabled flag: telling it again')
      await askCell(d.tree, ctx, r.path, 'set_disabled', { disabled: want }).catch((err: unknown) =>
        d.log.warn({ requestId: ctx.requestId, cell: r.path, err: messageOf(err) }, 'could not set the disabled flag of a cell'),
      )
    }
  }
  return d.tree.onCapacity(() => {
    if (running || Date.now() - lastRun < MIN_INTERVAL_MS) return
    running = true
    lastRun = Date.now()
    run()
      .catch((err: unknown) => d.log.warn({ err: messageOf(err) }, 'disabled flag sync failed'))
      .finally(() => {
        running = false
      })
  })
}
