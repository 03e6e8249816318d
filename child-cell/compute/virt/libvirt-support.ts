import { access, open, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { ensurePrivateDirAsync, PRIVATE_FILE_MODE } from '../../../shared/fs/private-files.js'
import { ConflictError } from '../../../shared/errors.js'
import { InstanceNotFoundError, POWER_STATES } from './driver.js'
import type { PowerState } from './driver.js'

/** What libvirt-driver.ts needs besides the driver class: libvirt's states, errors and host facts. */

/** libvirt's virDomainState numbers. */
export const VIR = { NOSTATE: 0, RUNNING: 1, BLOCKED: 2, PAUSED: 3, SHUTDOWN: 4, SHUTOFF: 5, CRASHED: 6, PMSUSPENDED: 7 } as const

/** Nova's LIBVIRT_POWER_STATE: SHUTDOWN (being shut down) and SHUTOFF both read as SHUTDOWN. */
export const TO_POWER_STATE: Readonly<Record<number, PowerState>> = {
  [VIR.NOSTATE]: POWER_STATES.NOSTATE,
  [VIR.RUNNING]: POWER_STATES.RUNNING,
  [VIR.BLOCKED]: POWER_STATES.RUNNING,
  [VIR.PAUSED]: POWER_STATES.PAUSED,
  [VIR.SHUTDOWN]: POWER_STATES.SHUTDOWN,
  [VIR.SHUTOFF]: POWER_STATES.SHUTDOWN,
  [VIR.CRASHED]: POWER_STATES.CRASHED,
  [VIR.PMSUSPENDED]: POWER_STATES.SUSPENDED,
}

/** Guest states the power operations distinguish (the table in driver.ts), plus `other` (crashed, PM-suspended). */
export type GuestState = 'running' | 'paused' | 'shutoff' | 'suspended' | 'other'

export function conflict(operation: string, uuid: string, state: GuestState): ConflictError {
  return new ConflictError(`cannot ${operation} instance ${uuid} while it is ${state}`, { uuid, state })
}

/** The binding rejects with libvirt's message only (code -1), so "not found" is recognised by text. */
export function isNotFound(err: unknown): boolean {
  return err instanceof Error && /^Domain not found/i.test(err.message)
}

export function rethrow(uuid: string, err: unknown): never {
  if (isNotFound(err)) throw new InstanceNotFoundError(uuid, err)
  throw err
}

/** Stopping a guest that stopped on its own meanwhile is not an error. */
export async function ignoreNotRunning(p: Promise<void>): Promise<void> {
  try {
    await p
  } catch (err) {
    if (!(err instanceof Error && /not running/i.test(err.message))) throw err
  }
}

/** libvirt's node "model" is the machine name (`uname -m`); anything else falls back to Node's view. */
export function normaliseArch(model: string): string {
  if (/^(x86_64|i686|aarch64|armv7l|ppc64le|ppc64|s390x|riscv64)$/.test(model)) return model
  const byNode: Readonly<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', ppc64: 'ppc64le', s390x: 's390x' }
  return byNode[process.arch] ?? process.arch
}

export function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

export async function fileSystemGb(path: string): Promise<number> {
  const fs = await statfs(path)
  return Math.floor((fs.blocks * fs.bsize) / 1024 ** 3)
}

/** A sparse raw disk of `rootGb` at `<dir>/disk` (a qemu guest spawned without a prepared disk). */
export async function createBlankDisk(dir: string, rootGb: number): Promise<string> {
  await ensurePrivateDirAsync(dir)
  const path = join(dir, 'disk')
  const file = await open(path, 'wx', PRIVATE_FILE_MODE)
  try {
    await file.truncate(rootGb * 1024 ** 3)
  } finally {
    await file.close()
  }
  return path
}
