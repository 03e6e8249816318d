import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The repository (package) root, found from this file whether it runs from `dist/` or from source
 * (vitest): the first ancestor holding `package.json` and `proto/`.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir
    const up = dirname(dir)
    if (up === dir) throw new Error('cannot find the package root (package.json beside proto/)')
    dir = up
  }
}
