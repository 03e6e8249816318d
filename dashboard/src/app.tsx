import { useEffect, useState } from 'preact/hooks'
import type { Session } from './api.js'
import { isAdmin, onExpired, saveSession, savedSession } from './api.js'
import { CellView } from './views/cell-view.js'
import { FitView } from './views/fit-view.js'
import { LoginView } from './views/login-view.js'
import { ServersView } from './views/servers-view.js'
import { TreeView } from './views/tree-view.js'

/** The views, by location hash: `#/tree`, `#/cell/<path>`, `#/servers`, `#/fit`. */
type Route = { readonly view: 'tree' | 'servers' | 'fit' } | { readonly view: 'cell'; readonly path: string }

function routeOf(hash: string): Route {
  const h = hash.replace(/^#\/?/, '')
  if (h.startsWith('cell/')) return { view: 'cell', path: decodeURIComponent(h.slice(5)) }
  if (h === 'servers' || h === 'fit') return { view: h }
  return { view: 'tree' }
}

function useRoute(): Route {
  const [route, setRoute] = useState(routeOf(location.hash))
  useEffect(() => {
    const on = (): void => setRoute(routeOf(location.hash))
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return route
}

const NAV = [
  { view: 'tree', href: '#/tree', label: 'Cell tree' },
  { view: 'servers', href: '#/servers', label: 'Servers' },
  { view: 'fit', href: '#/fit', label: 'Where does it fit' },
] as const

/** The dashboard: the login form until a token is held, then the views. */
export function App() {
  const [session, setSession] = useState<Session | null>(savedSession())
  const route = useRoute()
  const signIn = (s: Session | null): void => {
    saveSession(s)
    setSession(s)
  }
  useEffect(() => onExpired(() => signIn(null)), [])
  useEffect(() => {
    const title = route.view === 'cell' ? `Cell ${route.path}` : (NAV.find((n) => n.view === route.view)?.label ?? '')
    document.title = session === null ? 'Log in · Federation dashboard' : `${title} · Federation dashboard`
  }, [route, session])
  if (session === null) return <LoginView onLogin={signIn} />
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Federation dashboard</span>
        <nav aria-label="Views">
          <ul>
            {NAV.map((n) => (
              <li key={n.view}>
                <a href={n.href} aria-current={route.view === n.view || (n.view === 'tree' && route.view === 'cell') ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {session.user} ({session.project}){isAdmin(session) ? ', admin' : ''}
          <button type="button" onClick={() => signIn(null)}>
            Log out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {route.view === 'tree' && <TreeView session={session} />}
        {route.view === 'cell' && <CellView session={session} path={route.path} />}
        {route.view === 'servers' && <ServersView session={session} />}
        {route.view === 'fit' && <FitView session={session} />}
      </main>
    </>
  )
}
