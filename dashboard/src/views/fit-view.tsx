import { useState } from 'preact/hooks'
import type { Session } from '../api.js'
import { ADMIN, call, cellSegment } from '../api.js'
import { Failure, StateBadge } from '../components/state-badge.js'
import type { Capacity } from '../types.js'
import { usePoll } from '../use-poll.js'

/** "Where does it fit": how many more of a chosen flavor each cell can take, host by host. */
export function FitView(props: { session: Session }) {
  const cap = usePoll(() => call<Capacity>(props.session, 'GET', `${ADMIN}/capacity`), 3000, 'capacity')
  const [flavor, setFlavor] = useState<string>('')
  const flavors = cap.data?.flavors ?? []
  const chosen = flavor !== '' ? flavor : (flavors[0]?.name ?? '')
  return (
    <section aria-labelledby="fit-title">
      <h1 id="fit-title">Where does it fit</h1>
      <Failure error={cap.error} what="the capacity" />
      {cap.data !== undefined && (
        <>
          <label for="fit-flavor">Flavor</label>{' '}
          <select id="fit-flavor" value={chosen} onChange={(e) => setFlavor((e.currentTarget as HTMLSelectElement).value)}>
            {flavors.map((f) => (
              <option key={f.id} value={f.name}>
                {f.name}
              </option>
            ))}
          </select>
          <table>
            <caption>How many more {chosen} each cell can take (its whole subtree), from the latest reports</caption>
            <thead>
              <tr>
                <th scope="col">Cell</th>
                <th scope="col">State</th>
                <th scope="col">Fit</th>
                <th scope="col">Most on one host</th>
              </tr>
            </thead>
            <tbody>
              {cap.data.cells.map((c) => (
                <tr key={c.path}>
                  <th scope="row">
                    <a href={`#/cell/${cellSegment(c.path)}`}>{c.path}</a>
                  </th>
                  <td>
                    <StateBadge state={c.state} />
                  </td>
                  <td>{c.fits[chosen] ?? 0}</td>
                  <td>{c.max_per_host[chosen] ?? 0}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  )
}
