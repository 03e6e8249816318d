import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')

/**
 * Tempest (Debian's package, installed by .ci/run) runs its compute API tests for everything we
 * serve against a fresh embedded federation (`npm run tempest`, built by `npm test`'s pretest).
 * Skips are Tempest's own (features we do not claim: networks, volumes, consoles, resize...).
 */
describe('Tempest compute API tests', () => {
  it('passes every test it runs', () => {
    expect(existsSync('/usr/bin/tempest'), 'tempest is installed (apt-get install -y tempest)').toBe(true)
    const run = spawnSync(process.execPath, [resolve(root, 'dist/bin/tempest.js'), '--concurrency', '2'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 15 * 60_000,
      env: { ...process.env, LOG_LEVEL: 'warn' },
      maxBuffer: 64 * 1024 * 1024,
    })
    const out = `${run.stdout}\n${run.stderr}`
    const totals = /Totals[\s\S]*?Passed: (\d+)[\s\S]*?Skipped: (\d+)[\s\S]*?Failed: (\d+)/.exec(out)
    const failed = out.split('\n').filter((l) => l.includes('... FAILED'))
    process.stdout.write(`tempest: ${totals === null ? 'no totals' : `passed ${totals[1]}, skipped ${totals[2]}, failed ${totals[3]}`}\n`)
    expect(failed, 'failed tests').toEqual([])
    expect(totals, out.slice(-3000)).not.toBeNull()
    expect(Number(totals?.[3])).toBe(0)
    expect(Number(totals?.[1])).toBeGreaterThan(200)
    expect(run.status).toBe(0)
  }, 16 * 60_000)
})
