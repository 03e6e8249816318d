import { execFile } from 'node:child_process'
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import type { ConfigDriveFileWire } from '../../shared/cell-link/build-spec.js'
import { InvalidError } from '../../shared/errors.js'
import { ensurePrivateDirAsync, PRIVATE_FILE_MODE } from '../../shared/fs/private-files.js'

const run = promisify(execFile)

/** The volume label cloud-init looks for (Nova's config drive). */
export const CONFIG_DRIVE_LABEL = 'config-2'

/** The ISO's file name in the instance directory, as Nova names it. */
export const CONFIG_DRIVE_NAME = 'disk.config'

/** The host cannot make config drives: `xorriso` is not installed. */
export class ConfigDriveToolMissingError extends Error {
  constructor(readonly tool: string, cause: unknown) {
    super(`cannot build the config drive: ${tool} is not installed on this compute host (Debian: apt-get install xorriso)`, { cause })
    this.name = 'ConfigDriveToolMissingError'
  }
}

/**
 * Where a host without an image cache (tests' leaf cells) keeps config drives: one directory
 * per instance under the system's temporary directory.
 */
export function fallbackConfigDriveDir(uuid: string): string {
  return join(tmpdir(), 'federation-config-drives', uuid.toLowerCase())
}

/**
 * Packs the files the conductor rendered into an ISO 9660 image labelled `config-2` (Rock Ridge
 * and Joliet, as Nova's `genisoimage` call makes it) at `<dir>/disk.config`, with `xorriso`'s
 * mkisofs emulation, and answers its path. The files are staged in a directory that is removed
 * afterwards; an ISO of an earlier attempt is replaced. A path that is not a plain relative
 * one (`..`, absolute, empty parts), or a `sameAs` of no earlier file, is an {@link InvalidError}:
 * nothing is written.
 */
export async function buildConfigDrive(args: { readonly dir: string; readonly files: readonly ConfigDriveFileWire[]; readonly xorriso?: string }): Promise<string> {
  const contents = contentsOf(args.files)
  await ensurePrivateDirAsync(args.dir)
  const staging = join(args.dir, 'config-drive.d')
  const iso = join(args.dir, CONFIG_DRIVE_NAME)
  await rm(staging, { recursive: true, force: true })
  try {
    for (const [path, bytes] of contents) {
      const target = join(staging, ...path.split('/'))
      await mkdir(dirname(target), { recursive: true, mode: 0o700 })
      await writeFile(target, bytes, { mode: PRIVATE_FILE_MODE })
    }
    await rm(iso, { force: true })
    const tool = args.xorriso ?? 'xorriso'
    try {
      await run(tool, ['-as', 'mkisofs', '-o', iso, '-ldots', '-allow-lowercase', '-allow-multidot', '-l', '-publisher', 'cells-federation', '-quiet', '-J', '-r', '-V', CONFIG_DRIVE_LABEL, staging], { timeout: 60_000 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigDriveToolMissingError(tool, err)
      throw new Error(`cannot build the config drive: ${tool} failed: ${String((err as { stderr?: unknown }).stderr ?? (err as Error).message).trim()}`, { cause: err })
    }
    await chmod(iso, PRIVATE_FILE_MODE)
    return iso
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}

/** Each file's bytes (`sameAs` resolved), paths checked; an unknown `sameAs` is an {@link InvalidError}. */
function contentsOf(files: readonly ConfigDriveFileWire[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const f of files) {
    checkRelative(f.path)
    const bytes = 'sameAs' in f ? out.get(f.sameAs) : Buffer.from(f.contentBase64, 'base64')
    if (bytes === undefined) throw new InvalidError(`config drive file ${JSON.stringify(f.path)} is the same as an unknown file`)
    out.set(f.path, bytes)
  }
  return out
}

function checkRelative(path: string): void {
  const parts = path.split('/')
  if (path.length === 0 || path.length > 255 || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
    throw new InvalidError(`invalid config drive file path ${JSON.stringify(path)}`)
  }
}
