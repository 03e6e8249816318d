import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../../../..')

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : []
  })
}

/**
 * `@unraid/libvirt` is an optional dependency: a machine without libvirt's headers installs
 * without it, and the project must still build and start (on the fake driver). So no module
 * imports it by name, statically or dynamically, where TypeScript would need it to type-check:
 * only libvirt-binding.ts loads it, at run time, through a specifier TypeScript does not resolve.
 */
describe('the optional libvirt binding is never needed to build', () => {
  const files = ['api-cell', 'child-cell', 'shared', 'bin', 'bench'].flatMap((d) => sources(join(root, d)))

  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(100)
  })

  it('no source imports @unraid/libvirt by a literal specifier', () => {
    const offenders = files.filter((f) =>
      /(?:from\s+|import\(\s*)['"]@unraid\/libvirt['"]/.test(readFileSync(f, 'utf8')),
    )
    expect(offenders.map((f) => relative(root, f))).toEqual([])
  })

  it('libvirt-binding.ts is the one place that names the package', () => {
    const naming = files.filter((f) => readFileSync(f, 'utf8').includes("'@unraid/libvirt'"))
    expect(naming.map((f) => relative(root, f))).toEqual(['child-cell/compute/virt/libvirt-binding.ts'])
  })
})
