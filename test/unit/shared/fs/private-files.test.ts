import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { writeTestHostXml } from '../../../../child-cell/compute/virt/host-xml.js'
import { openDatabase } from '../../../../shared/db/database.js'
import {
  ensurePrivateDir,
  ensurePrivateFile,
  securePrivateTree,
  tightenFile,
  writePrivateFile,
} from '../../../../shared/fs/private-files.js'

const mode = (path: string): number => lstatSync(path).mode & 0o7777

describe('private files under a umask of 0', () => {
  let root: string
  let previous: number

  beforeEach(() => {
    previous = process.umask(0o000)
    root = mkdtempSync(join(tmpdir(), 'private-files-'))
  })
  afterEach(() => {
    process.umask(previous)
    rmSync(root, { recursive: true, force: true })
  })

  it('creates directories, parents included, as 0700 and narrows an existing one', () => {
    ensurePrivateDir(join(root, 'a', 'b'))
    expect(mode(join(root, 'a'))).toBe(0o700)
    expect(mode(join(root, 'a', 'b'))).toBe(0o700)
    mkdirSync(join(root, 'open'), { mode: 0o777 })
    ensurePrivateDir(join(root, 'open'))
    expect(mode(join(root, 'open'))).toBe(0o700)
  })

  it('refuses a sticky shared directory such as /tmp, and leaves its mode alone', () => {
    const shared = join(root, 'shared')
    mkdirSync(shared)
    chmodSync(shared, 0o1777)
    expect(() => ensurePrivateDir(shared)).toThrow(/shared \(sticky\)/)
    expect(mode(shared)).toBe(0o1777)
  })

  it('writes secrets 0600, narrowing an existing world-readable file before writing', () => {
    const path = join(root, 'secret')
    writeFileSync(path, 'old', { mode: 0o666 })
    writePrivateFile(path, 'new secret')
    expect(mode(path)).toBe(0o600)
    expect(readFileSync(path, 'utf8')).toBe('new secret')
    writePrivateFile(join(root, 'fresh'), Buffer.from('x'))
    expect(mode(join(root, 'fresh'))).toBe(0o600)
  })

  it('creates or narrows a file to 0600 and takes group/other bits off without widening', () => {
    ensurePrivateFile(join(root, 'db'))
    expect(mode(join(root, 'db'))).toBe(0o600)
    writeFileSync(join(root, 'ro'), 'x', { mode: 0o444 })
    tightenFile(join(root, 'ro'))
    expect(mode(join(root, 'ro'))).toBe(0o400)
    tightenFile(join(root, 'missing')) // no error
  })

  it('narrows a whole tree left by an older start', () => {
    mkdirSync(join(root, 'cells', 'dc1'), { recursive: true, mode: 0o755 })
    writeFileSync(join(root, 'cells', 'dc1', 'x.db'), '', { mode: 0o644 })
    writeFileSync(join(root, 'already'), '', { mode: 0o600 })
    chmodSync(root, 0o755)
    expect(securePrivateTree(root)).toBe(3)
    for (const p of [root, join(root, 'cells'), join(root, 'cells', 'dc1')]) expect(mode(p)).toBe(0o700)
    expect(mode(join(root, 'cells', 'dc1', 'x.db'))).toBe(0o600)
    expect(securePrivateTree(root)).toBe(0)
  })

  it('opens SQLite with a 0600 database file and WAL, narrowing an older one', async () => {
    const path = join(root, 'new-dir', 'cell.db')
    const db = await openDatabase(`sqlite:${path}`)
    await db.close()
    expect(mode(join(root, 'new-dir'))).toBe(0o700)
    expect(mode(path)).toBe(0o600)
    chmodSync(path, 0o644)
    writeFileSync(`${path}-wal`, '', { mode: 0o644 })
    const again = await openDatabase(`sqlite:${path}`)
    await again.close()
    expect(mode(path)).toBe(0o600)
  })

  it('writes the libvirt test host file 0600 in a 0700 directory', async () => {
    const path = join(root, 'hosts', 'h1', 'host.xml')
    await writeTestHostXml({ path, vcpus: 2, memoryMb: 1024 })
    expect(mode(path)).toBe(0o600)
    expect(mode(join(root, 'hosts'))).toBe(0o700)
    expect(mode(join(root, 'hosts', 'h1'))).toBe(0o700)
  })
})
