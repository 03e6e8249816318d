import type { AdminClient } from './admin-client.js'
import type { CommandOutput } from './output.js'
import type { ProgressStream } from './progress.js'

/** One option of a command (node:util parseArgs shape, plus its help). */
export interface OptionSpec {
  readonly type: 'string' | 'boolean'
  readonly short?: string
  /** The value's placeholder in help (`PATH`, `N`). */
  readonly value?: string
  readonly help: string
}

/** What a running command gets. */
export interface CommandContext {
  readonly values: Readonly<Record<string, string | boolean | undefined>>
  /** The positional arguments after the command's words. */
  readonly args: readonly string[]
  /** Logs in (once) and returns the admin API client. */
  readonly client: () => Promise<AdminClient>
  /** Where progress goes (stderr). */
  readonly progress: ProgressStream
  readonly env: Readonly<Record<string, string | undefined>>
}

/** One `cellctl` command. */
export interface CommandSpec {
  /** Its words: `['cell', 'list']`. */
  readonly name: readonly string[]
  readonly summary: string
  /** Positional arguments, all required, in order. */
  readonly args: readonly string[]
  readonly options: Readonly<Record<string, OptionSpec>>
  /** More help text (what it does, what it refuses). */
  readonly details?: string
  run(c: CommandContext): Promise<CommandOutput>
}

/** A string option's value, or undefined. */
export const str = (c: CommandContext, name: string): string | undefined => {
  const v = c.values[name]
  return typeof v === 'string' ? v : undefined
}
