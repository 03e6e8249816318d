import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/**
 * The operator dashboard's build: one page served by the API cell at /dashboard/, its script and
 * stylesheet bundled into dist/dashboard/ (no CDN at run time). Preact's automatic JSX runtime.
 */
export const dashboardConfig = defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
  },
})

// Vite reads a config file's default export; the project's "no default exports" rule is for our modules.
// eslint-disable-next-line no-restricted-syntax
export default dashboardConfig
