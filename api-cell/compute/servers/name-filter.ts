import { RE2JS } from 're2js'
import { InvalidError } from '../../../shared/errors.js'

/** The longest `name` pattern accepted: names are at most 255 characters, patterns rarely longer. */
export const MAX_NAME_PATTERN = 1024

/**
 * The most counted repetition (the sum of the bounds of every `{n}` / `{n,m}`) a pattern may ask
 * for. RE2 expands counted repetitions when it compiles, so `a{1000}` written a hundred times in 1 KB
 * would take a second to compile although matching it stays linear. Names have at most 255
 * characters: bounds past that cannot change what matches.
 */
export const MAX_REPETITION = 1000

/** Backstop on the compiled program (instructions); ordinary patterns need a few dozen. */
export const MAX_PROGRAM_SIZE = 5000

/** Counted repetitions, found with a pattern that cannot backtrack (no nested quantifiers). */
const COUNTED = /\{(\d{1,9})(?:,(\d{0,9}))?\}/g

/**
 * Compiles the `name` filter of `GET /servers`. Nova runs it as Python's `re.search` over each name;
 * we run it on RE2 (re2js), whose matching time is linear in the name whatever the pattern, so a
 * pattern such as `(a+)+$` against `aaaa…!` cannot stall the event loop the way a backtracking
 * engine (JavaScript's `RegExp`, Python's `re`) does. Ordinary patterns mean the same in both;
 * backreferences and lookaround, which RE2 cannot run in linear time, are a 400 like any invalid
 * pattern.
 *
 * @returns a predicate that is true when the pattern matches anywhere in the name (`re.search`).
 */
export function nameFilter(pattern: string): (name: string) => boolean {
  if (pattern.length > MAX_NAME_PATTERN) {
    throw new InvalidError(`Invalid regular expression in the name filter: longer than ${MAX_NAME_PATTERN} characters`)
  }
  let repetition = 0
  for (const m of pattern.matchAll(COUNTED)) repetition += Math.max(Number(m[1]), Number(m[2] ?? 0))
  if (repetition > MAX_REPETITION) {
    throw new InvalidError(`Invalid regular expression in the name filter: its counted repetitions add up to more than ${MAX_REPETITION}`)
  }
  let re: RE2JS
  try {
    re = RE2JS.compile(pattern)
  } catch (err) {
    const why = err instanceof Error ? err.message : 'invalid'
    throw new InvalidError(`Invalid regular expression in the name filter: ${why}`)
  }
  if (re.programSize() > MAX_PROGRAM_SIZE) throw new InvalidError('Invalid regular expression in the name filter: too complex')
  return (name) => re.test(name)
}

/** Characters with a meaning in a pattern: one of them and the pattern is not a plain string. */
const META = '\\.^$*+?()[]{}|'

/**
 * A SQL `LIKE` pattern (escape character `!`) that every name the `name` filter matches also
 * matches, when the pattern is a plain string, optionally anchored (`web`, `^web-1$`); undefined
 * for any other pattern. `LIKE` may match more (it ignores ASCII case in SQLite and in MariaDB's
 * default collations), so the regular expression still runs on what it returns: the prefilter only
 * spares the listing from reading every server of the project to test each name.
 */
export function likePrefilter(pattern: string): string | undefined {
  const start = pattern.startsWith('^')
  const end = pattern.endsWith('$') && pattern.length > (start ? 1 : 0)
  const body = pattern.slice(start ? 1 : 0, end ? -1 : undefined)
  if (body === '' || [...body].some((ch) => META.includes(ch))) return undefined
  let escaped = ''
  for (const ch of body) escaped += ch === '%' || ch === '_' || ch === '!' ? `!${ch}` : ch
  return `${start ? '' : '%'}${escaped}${end ? '' : '%'}`
}
