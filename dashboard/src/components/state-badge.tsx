import { ApiError } from '../api.js'

/** A cell's or host's state as a word (never colour alone). */
export function StateBadge(props: { state: string }) {
  return <span class={`badge badge-${props.state}`}>{props.state}</span>
}

/** A report age for people: "1.2 s ago", "never". */
export function age(s: number | null): string {
  if (s === null) return 'never'
  if (s < 60) return `${s.toFixed(1)} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return `${Math.floor(s / 3600)} h ago`
}

/** A message for a failed read, with the API's own words (and what a 403 means here). */
export function Failure(props: { error: Error | undefined; what: string }) {
  if (props.error === undefined) return null
  const forbidden = props.error instanceof ApiError && props.error.status === 403
  return (
    <p class="error" role="alert">
      Could not read {props.what}: {props.error.message}
      {forbidden && ' The cell administration API needs the admin role.'}
    </p>
  )
}
