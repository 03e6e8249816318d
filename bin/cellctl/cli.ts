import { parseArgs } from 'node:util'
import { AppError } from '../../shared/errors.js'
import { AdminClient } from './admin-client.js'
import { CELL_COMMANDS } from './cell-commands.js'
import { resolveCloud } from './cloud-config.js'
import type { CommandSpec, OptionSpec } from './command.js'
import { HOST_COMMANDS } from './host-commands.js'
import { LOCAL_COMMANDS } from './local-commands.js'
import { MISC_COMMANDS } from './misc-commands.js'
import { PKI_COMMANDS } from './pki-commands.js'
import type { Format } from './output.js'
import { FORMATS, render } from './output.js'
import type { ProgressStream } from './progress.js'
import { UsageError } from './usage-error.js'

/** Every command, in help order. */
export const COMMANDS: readonly CommandSpec[] = [...CELL_COMMANDS, ...HOST_COMMANDS, ...MISC_COMMANDS, ...LOCAL_COMMANDS, ...PKI_COMMANDS]

/** Options every command takes. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  format: { type: 'string', short: 'f', value: 'FORMAT', help: `output format: ${FORMATS.join(' | ')} (default table)` },
  'os-cloud': { type: 'string', value: 'NAME', help: 'cloud of clouds.yaml (default $OS_CLOUD)' },
  help: { type: 'boolean', short: 'h', help: 'this help' },
}

/** Where `cellctl` writes and what it reads. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: ProgressStream
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly home: string
}

const CONNECTION_HELP = `Connection (day-to-day commands go through the API cell's admin API, admin role required):
  the cloud named by --os-cloud or OS_CLOUD in clouds.yaml (OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
  ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml), and/or OS_AUTH_URL, OS_USERNAME,
  OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME, OS_REGION_NAME.
Exit codes: 0 success, 1 operation failed (or a negative answer), 2 usage error.`

const synopsis = (c: CommandSpec): string => `cellctl ${[...c.name, ...c.args].join(' ')}`

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const entries = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short === undefined ? '    ' : `-${o.short}, `}--${name}${o.value === undefined ? '' : ` ${o.value}`}`
    return [flag, o.help] as const
  })
  const width = Math.max(...entries.map(([f]) => f.length))
  return entries.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`)
}

/** The overall help, or one group's (`cellctl cell --help`). */
export function topHelp(group?: string): string {
  const cmds = group === undefined ? COMMANDS : COMMANDS.filter((c) => c.name[0] === group)
  const width = Math.max(...cmds.map((c) => synopsis(c).length))
  return [
    `Usage: cellctl ${group ?? 'COMMAND'}${group === undefined ? '' : ' SUBCOMMAND'} [options]`,
    '',
    'The operator tool for the cell tree (what nova-manage cell_v2 is to Nova, for a tree of cells).',
    '',
    'Commands:',
    ...cmds.map((c) => `  ${synopsis(c).padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    CONNECTION_HELP,
    `Run 'cellctl COMMAND --help' for a command's options.`,
    '',
  ].join('\n')
}

/** One command's help. */
export function commandHelp(c: CommandSpec): string {
  const opts = Object.keys(c.options).length === 0 ? [] : ['Options:', ...optionLines(c.options), '']
  return [
    `Usage: ${synopsis(c)}${Object.keys(c.options).length === 0 ? '' : ' [options]'}`,
    '',
    `${c.summary[0]?.toUpperCase() ?? ''}${c.summary.slice(1)}.`,
    ...(c.details === undefined ? [] : [c.details]),
    '',
    ...opts,
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
  ].join('\n')
}

/** Every option any command knows, so that the command words can be told from option values. */
function allOptions(): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string }> = {}
  for (const [k, o] of Object.entries(GLOBAL_OPTIONS)) out[k] = { type: o.type, ...(o.short === undefined ? {} : { short: o.short }) }
  for (const c of COMMANDS) for (const [k, o] of Object.entries(c.options)) out[k] = { type: o.type }
  return out
}

type Parsed = { kind: 'help'; text: string } | { kind: 'run'; command: CommandSpec; values: Record<string, string | boolean | undefined>; args: string[] }

/**
 * `--weight-offset -1` as `--weight-offset=-1`: parseArgs takes a value that starts with a dash
 * for an option of its own, and negative numbers are legitimate values.
 */
function joinNegativeNumbers(argv: readonly string[]): string[] {
  const valued = new Set(Object.entries(allOptions()).filter(([, o]) => o.type === 'string').map(([k]) => `--${k}`))
  const out: string[] = []
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i] ?? ''
    const next = argv[i + 1]
    if (valued.has(a) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`)
      i += 1
    } else out.push(a)
  }
  return out
}

/** Finds the command and parses its flags; usage problems are {@link UsageError}s. */
export function parseCommandLine(rawArgv: readonly string[]): Parsed {
  const argv = joinNegativeNumbers(rawArgv)
  const loose = parseArgs({ args: [...argv], options: allOptions(), strict: false, allowPositionals: true })
  const words = loose.positionals
  const wantsHelp = loose.values['help'] === true
  const command =
    COMMANDS.find((c) => c.name.length === 2 && c.name[0] === words[0] && c.name[1] === words[1]) ??
    COMMANDS.find((c) => c.name.length === 1 && c.name[0] === words[0])
  if (command === undefined) {
    const group = words[0]
    const isGroup = group !== undefined && COMMANDS.some((c) => c.name[0] === group && c.name.length === 2)
    if (words.length === 0 || (words[0] === 'help' && words.length === 1)) {
      if (wantsHelp || words[0] === 'help') return { kind: 'help', text: topHelp() }
      throw new UsageError('no command given')
    }
    if (isGroup && words.length === 1 && wantsHelp) return { kind: 'help', text: topHelp(group) }
    if (isGroup) {
      const subs = COMMANDS.filter((c) => c.name[0] === group).map((c) => c.name[1])
      throw new UsageError(words.length === 1 ? `'${group}' needs a subcommand: ${subs.join(', ')}` : `unknown command '${group} ${words[1]}' (try: ${subs.join(', ')})`, group)
    }
    throw new UsageError(`unknown command '${words[0]}'`)
  }
  const label = command.name.join(' ')
  let strict
  try {
    strict = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries({ ...GLOBAL_OPTIONS, ...command.options }).map(([k, o]) => [k, { type: o.type, ...(o.short === undefined ? {} : { short: o.short }) }]),
      ),
      strict: true,
      allowPositionals: true,
    })
  } catch (err) {
    throw new UsageError(err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err), label)
  }
  if (strict.values['help'] === true) return { kind: 'help', text: commandHelp(command) }
  const args = strict.positionals.slice(command.name.length)
  if (args.length < command.args.length) throw new UsageError(`missing ${command.args.slice(args.length).join(' ')}`, label)
  if (args.length > command.args.length) throw new UsageError(`unexpected argument '${args[command.args.length] ?? ''}'`, label)
  if (args.some((a) => a === '')) throw new UsageError('arguments must not be empty', label)
  return { kind: 'run', command, values: strict.values as Record<string, string | boolean | undefined>, args }
}

/**
 * Runs `cellctl` with `argv` and returns the exit code: 0 success, 1 operation failure (or a
 * negative answer such as `instance verify` of a missing instance), 2 usage error. Every error is
 * one line on stderr, never a stack trace.
 */
export async function runCellctl(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: Parsed
  try {
    parsed = parseCommandLine(argv)
  } catch (err) {
    return fail(io, err)
  }
  if (parsed.kind === 'help') {
    io.stdout.write(parsed.text)
    return 0
  }
  const { command, values, args } = parsed
  const format = (values['format'] ?? 'table') as Format
  if (!(FORMATS as readonly string[]).includes(format)) return fail(io, new UsageError(`--format must be one of ${FORMATS.join(', ')}, got ${String(format)}`, command.name.join(' ')))
  let client: Promise<AdminClient> | undefined
  try {
    const out = await command.run({
      values,
      args,
      env: io.env,
      progress: io.stderr,
      client: () => {
        const osCloud = values['os-cloud']
        client ??= Promise.resolve().then(() =>
          AdminClient.connect(resolveCloud({ cloud: typeof osCloud === 'string' ? osCloud : undefined, env: io.env, cwd: io.cwd, home: io.home })),
        )
        return client
      },
    })
    io.stdout.write(render(out, format))
    for (const w of out.warnings ?? []) io.stderr.write(`warning: ${w}\n`)
    return out.exitCode ?? 0
  } catch (err) {
    return fail(io, err)
  }
}

function fail(io: CliIo, err: unknown): number {
  const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim()
  if (err instanceof UsageError) {
    const help = err.command === '' ? 'cellctl --help' : `cellctl ${err.command} --help`
    io.stderr.write(`cellctl: ${message} (see '${help}')\n`)
    return 2
  }
  io.stderr.write(`cellctl: error: ${err instanceof AppError || err instanceof Error ? message : 'unexpected failure'}\n`)
  return 1
}
