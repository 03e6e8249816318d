import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../../..')
const run = promisify(execFile)

/** `--help` of a built entry point (needs `npm run build`, as `npm test` does first). */
async function help(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(root, 'dist', script), ...args, '--help'], { env: { ...process.env, LOG_LEVEL: 'silent' } })
  return stdout
}

const flagsOf = (text: string): Set<string> => new Set(text.match(/--[a-z][a-z0-9-]*/g) ?? [])

/** Every `.ts` file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

/**
 * Flags the README and docs name that belong to other programs: the openstack CLI, npm, and
 * Tempest's options as our runner passes them through. Every other flag they name must be one of ours.
 */
const FOREIGN_FLAGS = new Set(['--os-region-name', '--wait', '--image', '--flavor', '--all-projects', '--disable', '--class', '--instances', '--omit', '--os-cloud', '--config-drive',
  // The `openstack` CLI's network and server flags the Networks section shows.
  '--long', '--network', '--nic', '--port', '--security-group', '--server', '--subnet-range'])

describe('entry points: what README and --help say is true', () => {
  let embedded: Set<string>
  let production: Set<string>
  let ours: Set<string>
  let readme: string
  let embeddedHelp: string

  beforeAll(async () => {
    const cellctlCommands = ['cell list', 'cell tree', 'cell show', 'cell create', 'cell update', 'cell disable', 'cell enable', 'cell drain', 'cell delete', 'host list', 'host discover', 'host delete', 'instance verify', 'cell0 map', 'capacity', 'db sync', 'bootstrap', 'pki init', 'pki issue', 'pki renew', 'pki list']
    const texts = await Promise.all([
      help('bin/federation.js'),
      help('bin/production.js'),
      help('bin/tempest.js'),
      help('child-cell/main.js'),
      help('api-cell/main.js'),
      help('bin/cellctl.js'),
      ...cellctlCommands.map((c) => help('bin/cellctl.js', ...c.split(' '))),
    ])
    embeddedHelp = texts[0] ?? ''
    embedded = flagsOf(embeddedHelp)
    production = flagsOf(texts[1] ?? '')
    ours = new Set(texts.flatMap((t) => [...flagsOf(t)]))
    readme = readFileSync(join(root, 'README.md'), 'utf8')
  })

  it('start:production takes every flag npm start takes (the README says "same flags")', () => {
    expect(readme).toContain('same flags as npm start')
    expect(embedded.size).toBeGreaterThan(10)
    expect([...embedded].filter((f) => !production.has(f))).toEqual([])
  })

  it('every flag the README and docs name is one an entry point documents in --help', () => {
    const docs = [readme, ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => readFileSync(join(root, 'docs', f), 'utf8'))]
    const named = new Set(docs.flatMap((d) => [...flagsOf(d)]))
    expect(named.size).toBeGreaterThan(10)
    // The benchmarks' own flags (`npm run bench -- NAME --flag`), read by their scenario (bench/, no --help).
    const bench = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(root, 'bench', f), 'utf8')).join('\n')
    const benchFlag = (f: string): boolean => bench.includes(`'${f}'`)
    expect([...named].filter((f) => !ours.has(f) && !FOREIGN_FLAGS.has(f) && !benchFlag(f)).sort()).toEqual([])
  })

  it('every environment variable the code reads is in --help and in the README', () => {
    const read = new Set<string>()
    for (const file of [...sources(join(root, 'shared')), ...sources(join(root, 'bin')), ...sources(join(root, 'api-cell')), ...sources(join(root, 'child-cell'))]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/['"]((?:FEDERATION|ADMIN)_[A-Z_]+)['"]/g)) read.add(m[1] ?? '')
    }
    expect(read).toContain('FEDERATION_REPORT_INTERVAL_MS')
    for (const name of read) {
      expect(embeddedHelp, `${name} in npm start --help`).toContain(name)
      expect(readme, `${name} in README.md`).toContain(name)
    }
  })
})
