/** A taken/total bar (used, or out of reach below a disabled or down cell) with its figures in text (the bar is decoration; the text and label carry it). */
export function CapacityBar(props: { label: string; free: number; total: number | undefined; unit: string }) {
  const total = props.total ?? 0
  const used = Math.max(0, total - props.free)
  const pct = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0
  const level = pct >= 90 ? 'high' : pct >= 70 ? 'mid' : 'low'
  const text = total > 0 ? `${fmt(used)} / ${fmt(total)} ${props.unit} taken (${pct}%)` : 'no report'
  return (
    <div class="bar">
      <span class="bar-label">{props.label}</span>
      <span class="bar-track" role="meter" aria-label={`${props.label} taken`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={text}>
        <span class={`bar-fill bar-${level}`} style={{ width: `${pct}%` }} />
      </span>
      <span class="bar-text">{text}</span>
    </div>
  )
}

/** A number for people: whole when large, one decimal when small. */
export function fmt(n: number): string {
  return n >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString('en') : n.toFixed(1)
}
