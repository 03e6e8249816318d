import type { Session } from '../api.js'
import { ADMIN, call, cellSegment } from '../api.js'
import { CapacityBar, fmt } from '../components/capacity-bar.js'
import { Failure, StateBadge, age } from '../components/state-badge.js'
import type { Build, Cell, Host, Outbox } from '../types.js'
import { usePoll } from '../use-poll.js'
import { CellActions } from './cell-actions.js'

const POLL_MS = 3000

function HostsTable(props: { hosts: readonly Host[] }) {
  if (props.hosts.length === 0) return <p>No compute hosts.</p>
  return (
    <table>
      <caption>Compute hosts</caption>
      <thead>
        <tr>
          <th scope="col">Host</th>
          <th scope="col">Cell</th>
          <th scope="col">State</th>
          <th scope="col">Instances</th>
          <th scope="col">vCPU used</th>
          <th scope="col">RAM used (MiB)</th>
        </tr>
      </thead>
      <tbody>
        {props.hosts.map((h) => (
          <tr key={h.host}>
            <th scope="row">{h.host}</th>
            <td>{h.cell_path}</td>
            <td>
              <StateBadge state={h.disabled ? 'disabled' : h.state} />
            </td>
            <td>{h.instances}</td>
            <td>
              {fmt(h.vcpus_used)} / {fmt(h.vcpus)}
            </td>
            <td>
              {fmt(h.memory_mb_used)} / {fmt(h.memory_mb)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function BuildsTable(props: { builds: readonly Build[] }) {
  if (props.builds.length === 0) return <p>No builds since the API cell started.</p>
  return (
    <table>
      <caption>Recent builds (newest first)</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Instance</th>
          <th scope="col">Outcome</th>
          <th scope="col">Where / why</th>
        </tr>
      </thead>
      <tbody>
        {props.builds.map((b) => (
          <tr key={`${b.instance_uuid}-${b.at}`}>
            <td>{new Date(b.at).toLocaleTimeString('en-GB')}</td>
            <td class="mono">{b.instance_uuid}</td>
            <td>
              <StateBadge state={b.outcome === 'placed' ? 'placed' : 'ERROR'} />
              {b.refusals.length > 0 && <span class="hint"> after {b.refusals.length} refusal(s)</span>}
            </td>
            <td>
              {b.outcome === 'placed' ? `${b.cell_path} on ${b.host ?? '?'}` : b.reasons.join('; ')}
              {b.refusals.map((r) => (
                <div key={r.at + r.cell_path} class="refusal">
                  refused by {r.cell_path}: {r.reason}
                </div>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** One cell: state and capacity, its hosts, its outbox lag, recent builds, and (admins) disable/enable. */
export function CellView(props: { session: Session; path: string }) {
  const s = props.session
  const seg = cellSegment(props.path)
  const cell = usePoll(() => call<{ cell: Cell }>(s, 'GET', `${ADMIN}/cells/${seg}`), POLL_MS, `cell:${props.path}`)
  const hosts = usePoll(() => call<{ hosts: Host[] }>(s, 'GET', `${ADMIN}/hosts?cell=${seg}`), POLL_MS, `hosts:${props.path}`)
  const builds = usePoll(() => call<{ builds: Build[] }>(s, 'GET', `${ADMIN}/builds?cell=${seg}&limit=20`), POLL_MS, `builds:${props.path}`)
  const isCell0 = props.path === 'cell0'
  const outbox = usePoll<{ outbox: Outbox | null }>(
    () => (isCell0 ? Promise.resolve({ outbox: null }) : call<{ outbox: Outbox }>(s, 'GET', `${ADMIN}/cells/${seg}/outbox`)),
    POLL_MS,
    `outbox:${props.path}`,
  )
  const c = cell.data?.cell
  const ob = outbox.data?.outbox
  return (
    <section aria-labelledby="cell-title">
      <p>
        <a href="#/tree">← Cell tree</a>
      </p>
      <h1 id="cell-title">
        Cell <span class="mono">{props.path}</span> {c !== undefined && <StateBadge state={c.state} />}
      </h1>
      <Failure error={cell.error} what="the cell" />
      {c !== undefined && (
        <>
          {c.disabled_reason !== null && <p class="reason">Disabled: {c.disabled_reason}</p>}
          <dl class="facts">
            <div>
              <dt>Report</dt>
              <dd>{age(c.report_age_s)}</dd>
            </div>
            <div>
              <dt>Hosts up</dt>
              <dd>
                {c.hosts_up} / {c.hosts_total}
              </dd>
            </div>
            <div>
              <dt>Instances</dt>
              <dd>{c.instances}</dd>
            </div>
            <div>
              <dt>Outbox</dt>
              <dd>{ob === undefined || ob === null ? '—' : ob.error !== null ? `unknown (${ob.error})` : `${ob.pending ?? 0} pending, lag ${fmt(ob.oldest_age_s ?? 0)} s`}</dd>
            </div>
          </dl>
          {!isCell0 && (
            <div class="bars">
              <CapacityBar label="RAM" free={c.free_ram_mb / 1024} total={c.total_ram_mb === undefined ? undefined : c.total_ram_mb / 1024} unit="GiB" />
              <CapacityBar label="vCPU" free={c.free_vcpus} total={c.total_vcpus} unit="vCPU" />
              <CapacityBar label="Disk" free={c.free_disk_gb} total={c.total_disk_gb} unit="GiB" />
            </div>
          )}
          <CellActions session={s} cell={c} onChanged={cell.reload} />
        </>
      )}
      <h2>Hosts</h2>
      <Failure error={hosts.error} what="the hosts" />
      {hosts.data !== undefined && <HostsTable hosts={hosts.data.hosts} />}
      <h2>Recent builds</h2>
      <Failure error={builds.error} what="the builds" />
      {builds.data !== undefined && <BuildsTable builds={builds.data.builds} />}
    </section>
  )
}
