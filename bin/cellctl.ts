#!/usr/bin/env node
import { homedir } from 'node:os'
import { runCellctl } from './cellctl/cli.js'

/**
 * `cellctl`: the operator's tool for the cell tree. See `cellctl --help` and docs/admin-api.md;
 * the commands live in bin/cellctl/.
 */
runCellctl(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), home: homedir() }).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`cellctl: error: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`)
    process.exitCode = 1
  },
)
