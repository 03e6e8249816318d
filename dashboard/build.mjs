// `npm run build:dashboard`: bundles the dashboard with Vite (dashboard/vite.config.ts) into
// dist/dashboard/. Vite's bundler has a native binary that npm installs as an optional dependency,
// so `npm ci --omit=optional` (the quick start without libvirt) leaves it out: then the build goes
// on without the dashboard, with a warning, and the API cell answers /dashboard with how to build
// it. Any other failure fails the build.
import { fileURLToPath } from 'node:url'

try {
  await import('rolldown')
} catch (err) {
  const message = err instanceof Error ? err.message : String(err)
  if (!/native binding/i.test(message)) throw err
  console.warn(
    "warning: the dashboard was not built: Vite's native bundler (an optional dependency) is not installed. " +
      'Run `npm install` (or `npm ci`) without --omit=optional, then `npm run build`, to serve /dashboard.',
  )
  process.exit(0)
}
const { build } = await import('vite')
await build({ configFile: fileURLToPath(new URL('./vite.config.ts', import.meta.url)) })
