/**
 * Explicit plugin registries (after the Kubernetes scheduler framework) and the start-up step that
 * turns the operator's `enabled_filters` / `weighers` lists into plugin instances (after Nova's
 * `available_filters` + `enabled_filters`).
 *
 * Every mistake here is a start-up error, never a scheduling-time one: a name registered twice, an
 * enabled name that no registry knows, options for an unknown plugin, an unknown or mistyped option.
 */
import { AppError, InternalError } from '../errors.js'
import type { Filter, PluginFactory, Weigher } from './plugin.js'

/** What a registry holds; used in error messages. */
export const PLUGIN_KINDS = ['filter', 'weigher'] as const
/** One of {@link PLUGIN_KINDS}. */
export type PluginKind = (typeof PLUGIN_KINDS)[number]

/** Two plugins registered under one name. */
export class DuplicatePluginError extends AppError {
  readonly kind: PluginKind
  readonly pluginName: string
  constructor(args: { kind: PluginKind; pluginName: string; context: string }) {
    super({
      code: 'duplicate_plugin',
      status: 500,
      safe: false,
      message: `Scheduler ${args.kind} '${args.pluginName}' is ${args.context} more than once`,
      fields: { kind: args.kind, pluginName: args.pluginName },
    })
    this.kind = args.kind
    this.pluginName = args.pluginName
  }
}

/** A name in the configuration that the registry does not know (a typo, or a plugin not built in). */
export class UnknownPluginError extends AppError {
  readonly kind: PluginKind
  readonly pluginName: string
  readonly known: readonly string[]
  constructor(args: { kind: PluginKind; pluginName: string; known: readonly string[] }) {
    super({
      code: 'unknown_plugin',
      status: 500,
      safe: false,
      message:
        `Unknown scheduler ${args.kind} '${args.pluginName}'; ` +
        `available ${args.kind}s: ${args.known.join(', ') || '(none)'}`,
      fields: { kind: args.kind, pluginName: args.pluginName, known: args.known },
    })
    this.kind = args.kind
    this.pluginName = args.pluginName
    this.known = args.known
  }
}

/** An option a plugin does not read, or one of the wrong type or range. */
export class InvalidPluginOptionError extends AppError {
  readonly pluginName: string
  readonly option: string
  constructor(args: { pluginName: string; option: string; problem: string }) {
    super({
      code: 'invalid_plugin_option',
      status: 500,
      safe: false,
      message: `Scheduler plugin '${args.pluginName}': option '${args.option}' ${args.problem}`,
      fields: { pluginName: args.pluginName, option: args.option },
    })
    this.pluginName = args.pluginName
    this.option = args.option
  }
}

/** Plugins by name. Immutable once built. */
export interface PluginRegistry<P> {
  readonly kind: PluginKind
  /** Registered names, in registration order. */
  readonly names: readonly string[]
  /** The factory registered under `name`, if any. */
  factory(name: string): PluginFactory<P> | undefined
}

/**
 * Registry contents: a map literal (the usual form, one per plugin family) or a list of pairs (for
 * assembling registries programmatically, where a repeated name is easy to miss).
 */
export type RegistryEntries<P> =
  | Readonly<Record<string, PluginFactory<P>>>
  | readonly (readonly [name: string, factory: PluginFactory<P>])[]

/**
 * Builds a registry. A name given twice (in a list, or across `entries` and `base`) throws
 * {@link DuplicatePluginError}.
 *
 * @example
 * export const hostWeigherRegistry = createRegistry<Weigher<HostState, RequestSpec>>({
 *   kind: 'weigher',
 *   entries: { RAMWeigher: (o) => RAMWeigher.fromOptions(o) },
 * })
 */
export function createRegistry<P>(args: {
  readonly kind: PluginKind
  readonly entries: RegistryEntries<P>
  /** An existing registry to extend, e.g. the built-in plugins plus a site-specific one. */
  readonly base?: PluginRegistry<P>
}): PluginRegistry<P> {
  const byName = new Map<string, PluginFactory<P>>()
  const add = (name: string, factory: PluginFactory<P>): void => {
    if (byName.has(name)) throw new DuplicatePluginError({ kind: args.kind, pluginName: name, context: 'registered' })
    byName.set(name, factory)
  }
  if (args.base !== undefined) {
    for (const name of args.base.names) {
      const factory = args.base.factory(name)
      if (factory !== undefined) add(name, factory)
    }
  }
  const pairs = Array.isArray(args.entries)
    ? (args.entries as readonly (readonly [string, PluginFactory<P>])[])
    : Object.entries(args.entries as Readonly<Record<string, PluginFactory<P>>>)
  for (const [name, factory] of pairs) add(name, factory)
  const names = Object.freeze([...byName.keys()])
  return Object.freeze({
    kind: args.kind,
    names,
    factory: (name: string) => byName.get(name),
  })
}

/** Options per plugin name, as read from the configuration. */
export type OptionsByName = Readonly<Record<string, Readonly<Record<string, unknown>>>>

/**
 * Instantiates the enabled filters, in the order given (the order they run: put cheap, selective
 * filters first). Throws {@link UnknownPluginError} for a name the registry does not know, and
 * {@link DuplicatePluginError} for a name enabled twice.
 */
export function buildFilters<C, S>(
  registry: PluginRegistry<Filter<C, S>>,
  enabledNames: readonly string[],
  optionsByName: OptionsByName = {},
): Filter<C, S>[] {
  return buildPlugins(registry, enabledNames, optionsByName)
}

/** Instantiates the enabled weighers; same rules as {@link buildFilters}. */
export function buildWeighers<C, S>(
  registry: PluginRegistry<Weigher<C, S>>,
  enabledNames: readonly string[],
  optionsByName: OptionsByName = {},
): Weigher<C, S>[] {
  const weighers = buildPlugins(registry, enabledNames, optionsByName)
  for (const w of weighers) {
    if (!Number.isFinite(w.multiplier)) {
      throw new InvalidPluginOptionError({ pluginName: w.name, option: 'multiplier', problem: 'must be a finite number' })
    }
  }
  return weighers
}

function buildPlugins<P extends { readonly name: string }>(
  registry: PluginRegistry<P>,
  enabledNames: readonly string[],
  optionsByName: OptionsByName,
): P[] {
  for (const name of Object.keys(optionsByName)) {
    if (registry.factory(name) === undefined) {
      throw new UnknownPluginError({ kind: registry.kind, pluginName: name, known: registry.names })
    }
  }
  const seen = new Set<string>()
  return enabledNames.map((name) => {
    if (seen.has(name)) throw new DuplicatePluginError({ kind: registry.kind, pluginName: name, context: 'enabled' })
    seen.add(name)
    const factory = registry.factory(name)
    if (factory === undefined) throw new UnknownPluginError({ kind: registry.kind, pluginName: name, known: registry.names })
    const plugin = factory(Object.hasOwn(optionsByName, name) ? (optionsByName[name] ?? {}) : {})
    // A registry entry whose plugin reports another name would make rejection counts lie.
    if (plugin.name !== name) {
      throw new InternalError(`Scheduler ${registry.kind} registered as '${name}' calls itself '${plugin.name}'`)
    }
    return plugin
  })
}

/** The option types plugins read. */
export type OptionValue = number | string | boolean
type Widen<T> = T extends number ? number : T extends string ? string : T extends boolean ? boolean : never

/**
 * Reads a plugin's options against its defaults: every key must be one the plugin declares, with
 * the same type as its default (numbers must be finite). Throws {@link InvalidPluginOptionError}.
 *
 * @example
 * const { ram_weight_multiplier } = readOptions({
 *   pluginName: 'RAMWeigher', options, defaults: { ram_weight_multiplier: 1.0 },
 * })
 */
export function readOptions<D extends Readonly<Record<string, OptionValue>>>(args: {
  readonly pluginName: string
  readonly options: Readonly<Record<string, unknown>>
  readonly defaults: D
}): { readonly [K in keyof D]: Widen<D[K]> } {
  const out: Record<string, OptionValue> = { ...args.defaults }
  for (const [option, value] of Object.entries(args.options)) {
    if (!Object.hasOwn(args.defaults, option)) {
      const known = Object.keys(args.defaults)
      throw new InvalidPluginOptionError({
        pluginName: args.pluginName,
        option,
        problem: `is not read by this plugin (it reads: ${known.join(', ') || 'nothing'})`,
      })
    }
    const expected = typeof args.defaults[option]
    if (typeof value !== expected || (expected === 'number' && !Number.isFinite(value))) {
      throw new InvalidPluginOptionError({
        pluginName: args.pluginName,
        option,
        problem: `must be a ${expected === 'number' ? 'finite number' : expected}, got ${JSON.stringify(value)}`,
      })
    }
    out[option] = value as OptionValue
  }
  return Object.freeze(out) as { readonly [K in keyof D]: Widen<D[K]> }
}
