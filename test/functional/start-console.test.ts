import { spawn } from 'node:child_process'
import { lstatSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { removeDir } from '../helpers/embedded.js'

/**
 * `npm start` (dist/bin/federation.js) as a user runs it, under a umask of 0: the console says where
 * the admin password is and never prints it; the files holding it are 0600 in a 0700 state dir.
 * Needs a current build (`npm run build`).
 */

const BIN = resolve(import.meta.dirname, '../../dist/bin/federation.js')
const mode = (path: string): number => lstatSync(path).mode & 0o7777

interface Started {
  readonly output: string
  stop(): Promise<void>
}

const running: Started[] = []
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop()
})

/** Starts the federation and returns its console output up to the "Press Ctrl-C" line. */
function start(stateDir: string, env: Record<string, string | undefined>): Promise<Started> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...env }
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k]
  const args = [BIN, '--state-dir', stateDir, '--identity-port', '0', '--compute-port', '0', '--image-port', '0', '--driver', 'fake']
  // A umask of 0: every mode below comes from the code, not from the environment's umask.
  const child = spawn('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const stop = (): Promise<void> =>
    new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done()
      child.once('exit', () => done())
      child.kill('SIGTERM')
    })
  return new Promise((resolveStart, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8')
      if (output.includes('Press Ctrl-C')) {
        const started = { output, stop }
        running.push(started)
        resolveStart(started)
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => reject(new Error(`federation exited with ${code}: ${output}`)))
  })
}

describe('npm start: the admin password stays off the console', () => {
  it('with a generated password: names its 0600 file, prints it nowhere', async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'fed-console-')), 'state')
    try {
      const started = await start(stateDir, { ADMIN_PASSWORD: undefined })
      const passwordFile = join(stateDir, 'admin-password')
      const password = readFileSync(passwordFile, 'utf8')
      expect(password.length).toBeGreaterThanOrEqual(16)
      expect(started.output).not.toContain(password)
      expect(started.output).toContain(`password in ${passwordFile}`)
      expect(mode(stateDir)).toBe(0o700)
      expect(mode(passwordFile)).toBe(0o600)
      expect(mode(join(stateDir, 'clouds.yaml'))).toBe(0o600)
      expect(mode(join(stateDir, 'token-secret'))).toBe(0o600)
      expect(readFileSync(join(stateDir, 'clouds.yaml'), 'utf8')).toContain(password)
    } finally {
      for (const s of running.splice(0)) await s.stop()
      removeDir(join(stateDir, '..'))
    }
  })

  it('with ADMIN_PASSWORD: says so, prints it nowhere', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fed-console-'))
    try {
      const password = 'env-Admin-Pw-4711'
      const started = await start(stateDir, { ADMIN_PASSWORD: password })
      expect(started.output).not.toContain(password)
      expect(started.output).toContain('password as set in ADMIN_PASSWORD')
      expect(mode(stateDir)).toBe(0o700)
      expect(mode(join(stateDir, 'clouds.yaml'))).toBe(0o600)
    } finally {
      for (const s of running.splice(0)) await s.stop()
      removeDir(stateDir)
    }
  })
})
