import { useState } from 'preact/hooks'
import type { Session } from '../api.js'
import { login } from '../api.js'

/** Keystone password login (user, password, project, domain), as `openstack` does it. */
export function LoginView(props: { onLogin: (s: Session) => void }) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    const f = new FormData(e.currentTarget as HTMLFormElement)
    const value = (k: string): string => String(f.get(k) ?? '').trim()
    setBusy(true)
    setError(null)
    try {
      props.onLogin(await login({ user: value('user'), password: String(f.get('password') ?? ''), project: value('project'), domain: value('domain') || 'Default' }))
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <main id="main" class="login">
      <h1>Federation dashboard</h1>
      <form onSubmit={(e) => void submit(e)} aria-describedby={error === null ? undefined : 'login-error'}>
        <label for="user">User name</label>
        <input id="user" name="user" autoComplete="username" required />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required />
        <label for="project">Project</label>
        <input id="project" name="project" required />
        <label for="domain">Domain</label>
        <input id="domain" name="domain" value="Default" />
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        {error !== null && (
          <p id="login-error" class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  )
}
