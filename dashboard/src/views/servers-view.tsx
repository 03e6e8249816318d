import { useState } from 'preact/hooks'
import type { Session } from '../api.js'
import { ADMIN, call, isAdmin } from '../api.js'
import { Failure, StateBadge } from '../components/state-badge.js'
import type { Instance } from '../types.js'
import { usePoll } from '../use-poll.js'

const PAGE = 50
const STATUSES = ['', 'ACTIVE', 'BUILD', 'ERROR', 'SHUTOFF', 'PAUSED', 'SUSPENDED', 'SHELVED_OFFLOADED', 'VERIFY_RESIZE'] as const

interface Filters {
  readonly name: string
  readonly status: string
  readonly cell: string
}

interface Page {
  readonly instances: readonly Instance[]
  readonly next_marker: string | null
}

/**
 * One page: admins read the federation-wide index (cell path and host included) from the cell
 * administration API; other users their project's servers from the compute API. Both page by
 * marker on the server, so the browser never holds more than a page whatever the federation holds.
 */
async function loadPage(s: Session, f: Filters, marker: string | null): Promise<Page> {
  const q = new URLSearchParams({ limit: String(PAGE) })
  if (marker !== null) q.set('marker', marker)
  if (f.name !== '') q.set('name', f.name)
  if (f.status !== '') q.set('status', f.status)
  if (isAdmin(s)) {
    if (f.cell !== '') q.set('cell', f.cell)
    return call<Page>(s, 'GET', `${ADMIN}/instances?${q.toString()}`)
  }
  const r = await call<{ servers: Array<{ id: string; name: string; status: string; tenant_id: string; created: string; flavor: { id?: string; original_name?: string } }> }>(
    s,
    'GET',
    `/v2.1/servers/detail?${q.toString()}`,
  )
  const instances = r.servers.map((v) => ({ uuid: v.id, name: v.name, status: v.status, project_id: v.tenant_id, cell_path: null, host: null, flavor_id: v.flavor.id ?? v.flavor.original_name ?? '', created_at: v.created }))
  const last = instances[instances.length - 1]
  return { instances, next_marker: instances.length === PAGE && last !== undefined ? last.uuid : null }
}

/** Servers across the federation: search, status, cell path, host; paged by marker, refreshed every 5 s. */
export function ServersView(props: { session: Session }) {
  const s = props.session
  const [filters, setFilters] = useState<Filters>({ name: '', status: '', cell: '' })
  /** Markers of the pages before this one (the first page has none). */
  const [markers, setMarkers] = useState<Array<string | null>>([null])
  const marker = markers[markers.length - 1] ?? null
  const page = usePoll(() => loadPage(s, filters, marker), 5000, JSON.stringify([filters, marker]))
  const apply = (e: Event): void => {
    e.preventDefault()
    const f = new FormData(e.currentTarget as HTMLFormElement)
    setFilters({ name: String(f.get('name') ?? '').trim(), status: String(f.get('status') ?? ''), cell: String(f.get('cell') ?? '').trim() })
    setMarkers([null])
  }
  const admin = isAdmin(s)
  return (
    <section aria-labelledby="servers-title">
      <h1 id="servers-title">Servers</h1>
      {!admin && <p class="hint">Your project's servers (the federation-wide list needs the admin role).</p>}
      <form class="filters" onSubmit={apply} role="search" aria-label="Filter servers">
        <label for="f-name">Name contains</label>
        <input id="f-name" name="name" />
        <label for="f-status">Status</label>
        <select id="f-status" name="status">
          {STATUSES.map((st) => (
            <option key={st} value={st}>
              {st === '' ? 'any' : st}
            </option>
          ))}
        </select>
        {admin && (
          <>
            <label for="f-cell">Cell (and below)</label>
            <input id="f-cell" name="cell" placeholder="api!region-one" />
          </>
        )}
        <button type="submit">Search</button>
      </form>
      <Failure error={page.error} what="the servers" />
      {page.data !== undefined && (
        <>
          <table>
            <caption>
              Page {markers.length}
              {page.data.instances.length === 0 ? ': no servers' : `: ${page.data.instances.length} server(s), newest first`}
            </caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Cell</th>
                <th scope="col">Host</th>
                <th scope="col">ID</th>
              </tr>
            </thead>
            <tbody>
              {page.data.instances.map((i) => (
                <tr key={i.uuid} data-uuid={i.uuid}>
                  <th scope="row">{i.name}</th>
                  <td>
                    <StateBadge state={i.status} />
                  </td>
                  <td class="mono">{i.cell_path ?? '—'}</td>
                  <td>{i.host ?? '—'}</td>
                  <td class="mono">{i.uuid}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={markers.length <= 1} onClick={() => setMarkers(markers.slice(0, -1))}>
              Previous page
            </button>
            <button type="button" disabled={page.data.next_marker === null} onClick={() => setMarkers([...markers, page.data?.next_marker ?? null])}>
              Next page
            </button>
          </nav>
        </>
      )}
    </section>
  )
}
