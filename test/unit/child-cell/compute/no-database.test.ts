import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../../../..')
const FORBIDDEN_PACKAGES = ['kysely', 'mysql2', 'better-sqlite3']
const FORBIDDEN_DIRS = ['shared/db', 'child-cell/db'].map((d) => join(root, d))

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : []
  })
}

/** Every import specifier of a file (static and dynamic). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    out.push((m[1] ?? m[2]) as string)
  }
  return out
}

/** Walks the whole import graph from `entry`; returns every module reached (files and packages). */
function reach(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>()
  const packages = new Set<string>()
  const stack = [entry]
  while (stack.length > 0) {
    const f = stack.pop()!
    if (files.has(f)) continue
    files.add(f)
    for (const spec of imports(f)) {
      if (spec.startsWith('.')) stack.push(resolve(dirname(f), spec).replace(/\.js$/, '.ts'))
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string))
    }
  }
  return { files, packages }
}

describe('compute holds no database access (Nova’s security rule)', () => {
  const computeFiles = sources(join(root, 'child-cell/compute'))

  it('finds the compute sources', () => {
    expect(computeFiles.length).toBeGreaterThan(5)
  })

  it.each(computeFiles.map((f) => [relative(root, f), f]))('%s reaches no database module, directly or transitively', (_name, file) => {
    const { files, packages } = reach(file)
    const dbFiles = [...files].filter((f) => FORBIDDEN_DIRS.some((d) => f.startsWith(d)))
    expect(dbFiles.map((f) => relative(root, f))).toEqual([])
    expect([...packages].filter((p) => FORBIDDEN_PACKAGES.includes(p))).toEqual([])
  })

  it('the checker itself detects a database import (the conductor has one)', () => {
    const { files, packages } = reach(join(root, 'child-cell/conductor/manager.ts'))
    const reachesDb = [...files].some((f) => FORBIDDEN_DIRS.some((d) => f.startsWith(d))) || packages.has('kysely')
    expect(reachesDb).toBe(true)
  })
})
