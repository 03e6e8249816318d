import { parseFlags } from '../config/federation.js'

/** Values of the parsed flags. */
export type FlagValues = Record<string, string | boolean | undefined>

/**
 * Parses the common flags plus `extra` for a process entry point. A usage error prints the message
 * and the usage and exits with 2; `--help` prints the usage and returns undefined (exit 0 follows).
 * `check` validates flag values further (throwing = usage error).
 */
export function parseOrExit(
  argv: readonly string[],
  extra: Record<string, { type: 'string' | 'boolean'; short?: string }>,
  usage: string,
  check?: (values: FlagValues) => void,
): FlagValues | undefined {
  let values: FlagValues
  try {
    values = parseFlags(argv, extra)
    check?.(values)
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n\n${usage}\n`)
    process.exit(2)
  }
  if (values['help'] === true) {
    process.stdout.write(`${usage}\n`)
    return undefined
  }
  return values
}

/** SIGINT and SIGTERM run `stop` once, then the process exits (0, or 1 when stopping failed). */
export function stopOnSignals(stop: () => Promise<unknown>, onSignal?: (signal: string) => void): void {
  let stopping = false
  const handler = (signal: string): void => {
    if (stopping) return
    stopping = true
    onSignal?.(signal)
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', () => handler('SIGINT'))
  process.on('SIGTERM', () => handler('SIGTERM'))
}

/** Runs an entry point: a failure is one line on stderr and exit code 1, never a stack trace. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
