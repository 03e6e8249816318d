import { useState } from 'preact/hooks'
import type { Session } from '../api.js'
import { ADMIN, call, cellSegment, isAdmin } from '../api.js'
import type { Cell } from '../types.js'

/**
 * Disable (with a reason) or enable a cell: shown to admins only, and the API checks again
 * (`cells:disable`), so a hidden button is never the only guard.
 */
export function CellActions(props: { session: Session; cell: Cell; onChanged: () => void }) {
  const [reason, setReason] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  if (!isAdmin(props.session) || props.cell.path === 'cell0') return null
  const base = `${ADMIN}/cells/${cellSegment(props.cell.path)}`
  const run = async (op: 'disable' | 'enable'): Promise<void> => {
    setBusy(true)
    setError(null)
    try {
      await call(props.session, 'POST', `${base}/${op}`, op === 'disable' ? { reason: reason.trim() } : {})
      setReason('')
      props.onChanged()
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <section class="actions" aria-labelledby="actions-title">
      <h2 id="actions-title">Scheduling</h2>
      {props.cell.state === 'disabled' ? (
        <button type="button" disabled={busy} onClick={() => void run('enable')}>
          Enable cell
        </button>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault()
            void run('disable')
          }}
        >
          <label for="disable-reason">Reason for disabling</label>
          <input id="disable-reason" value={reason} required maxLength={255} onInput={(e) => setReason((e.currentTarget as HTMLInputElement).value)} />
          <button type="submit" disabled={busy || reason.trim() === ''}>
            Disable cell
          </button>
        </form>
      )}
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  )
}
