import { chmodSync, closeSync, fchmodSync, lstatSync, mkdirSync, openSync, readdirSync, writeSync } from 'node:fs'
import { chmod, mkdir } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Files and directories of the federation's state: databases, image bytes, guest disks, the token
 * signing key, the admin password, clouds.yaml. None of it is anyone else's business on the machine,
 * so directories are 0700 and files 0600 whatever the caller's umask (which only ever removes bits:
 * an explicit mode is still needed when the umask is 0), and what an older start left behind is
 * tightened at start.
 */

/** Mode of every state directory. */
export const PRIVATE_DIR_MODE = 0o700
/** Mode of every state file. */
export const PRIVATE_FILE_MODE = 0o600

/**
 * Creates `dir` (and missing parents) as 0700 and sets `dir` itself to 0700 if it existed. Parents
 * that already existed are left alone: they may be shared (a home directory).
 *
 * Refuses a sticky directory (`/tmp`): it is shared by design, and narrowing it would break others.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  const st = lstatSync(dir)
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`)
  if ((st.mode & 0o1000) !== 0) throw new Error(`${dir} is a shared (sticky) directory: use a directory of its own for state`)
  if ((st.mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(dir, PRIVATE_DIR_MODE)
}

/** {@link ensurePrivateDir} for async callers (compute paths that must not block the event loop). */
export async function ensurePrivateDirAsync(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  await chmod(dir, PRIVATE_DIR_MODE)
}

/**
 * Writes `data` to `path` with mode 0600. An existing file is narrowed before the new content goes
 * in, so that a secret never sits in a file others can read, even for a moment.
 */
export function writePrivateFile(path: string, data: string | Uint8Array): void {
  const fd = openSync(path, 'w', PRIVATE_FILE_MODE)
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE)
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    let off = 0
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off)
  } finally {
    closeSync(fd)
  }
}

/**
 * Creates `path` empty with mode 0600 when missing, or narrows it to 0600 (a database file before
 * the driver opens it: SQLite gives its journal and WAL files the database file's mode).
 */
export function ensurePrivateFile(path: string): void {
  closeSync(openSync(path, 'a', PRIVATE_FILE_MODE))
  chmodSync(path, PRIVATE_FILE_MODE)
}

/**
 * Takes every group and other bit off `path` (and its owner's execute bit) when it exists as a
 * regular file: 0644 becomes 0600, 0400 stays. Symbolic links are not followed.
 */
export function tightenFile(path: string): void {
  let st
  try {
    st = lstatSync(path)
  } catch {
    return
  }
  if (st.isFile() && (st.mode & 0o077) !== 0) chmodSync(path, st.mode & PRIVATE_FILE_MODE)
}

/**
 * Makes `root` a private directory ({@link ensurePrivateDir}) and narrows everything below it that
 * an older start (or an older version) left open to others: such directories become 0700, such
 * files lose every group and other bit (0644 becomes 0600).
 * Symbolic links are neither followed nor changed. Returns how many entries were narrowed.
 */
export function securePrivateTree(root: string): number {
  ensurePrivateDir(root)
  let narrowed = 0
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isSymbolicLink()) continue
      const mode = lstatSync(path).mode & 0o777
      if (entry.isDirectory()) {
        if ((mode & 0o077) !== 0) {
          chmodSync(path, PRIVATE_DIR_MODE)
          narrowed += 1
        }
        walk(path)
      } else if (entry.isFile() && (mode & 0o077) !== 0) {
        chmodSync(path, mode & PRIVATE_FILE_MODE)
        narrowed += 1
      }
    }
  }
  walk(root)
  return narrowed
}
