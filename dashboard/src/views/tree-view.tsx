import type { Session } from '../api.js'
import { ADMIN, call, cellSegment } from '../api.js'
import { CapacityBar } from '../components/capacity-bar.js'
import { Failure, StateBadge, age } from '../components/state-badge.js'
import type { CellNode } from '../types.js'
import { usePoll } from '../use-poll.js'

/** How often the tree is read again: reports arrive every few seconds. */
const TREE_POLL_MS = 2000

function CellRow(props: { cell: CellNode; depth: number }) {
  const c = props.cell
  return (
    <li class={`cell cell-${c.state}`} data-path={c.path}>
      <div class="cell-head">
        <a href={`#/cell/${cellSegment(c.path)}`} class="cell-name">
          {c.path}
        </a>
        <StateBadge state={c.state} />
        {c.disabled_reason !== null && <span class="reason">disabled: {c.disabled_reason}</span>}
      </div>
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
      </dl>
      {c.path !== 'cell0' && (
        <div class="bars">
          <CapacityBar label="RAM" free={c.free_ram_mb / 1024} total={c.total_ram_mb === undefined ? undefined : c.total_ram_mb / 1024} unit="GiB" />
          <CapacityBar label="vCPU" free={c.free_vcpus} total={c.total_vcpus} unit="vCPU" />
          <CapacityBar label="Disk" free={c.free_disk_gb} total={c.total_disk_gb} unit="GiB" />
        </div>
      )}
      {c.children.length > 0 && (
        <ul class="children">
          {c.children.map((k) => (
            <CellRow key={k.path} cell={k} depth={props.depth + 1} />
          ))}
        </ul>
      )}
    </li>
  )
}

/** The tree of cells (API cell → regions → intermediate → leaves), read again every two seconds. */
export function TreeView(props: { session: Session }) {
  const tree = usePoll(() => call<{ tree: CellNode[] }>(props.session, 'GET', `${ADMIN}/cells/tree`), TREE_POLL_MS, 'tree')
  return (
    <section aria-labelledby="tree-title">
      <h1 id="tree-title">Cell tree</h1>
      <p class="hint">
        Bars: capacity taken / total, allocation ratios and reserves applied, from each cell's latest report. A parent's figures cover its subtree, where a
        disabled or down cell counts as taken (no build can use it).
      </p>
      <Failure error={tree.error} what="the cell tree" />
      {tree.data !== undefined && (
        <ul class="tree" aria-label="Cells">
          <li class="cell cell-root">
            <div class="cell-head">
              <span class="cell-name">api</span> <span class="hint">API cell</span>
            </div>
            <ul class="children">
              {tree.data.tree.map((c) => (
                <CellRow key={c.path} cell={c} depth={1} />
              ))}
            </ul>
          </li>
        </ul>
      )}
    </section>
  )
}
