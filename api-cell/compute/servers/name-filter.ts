import { RE2JS } from 're2js'
import { InvalidError } from '../../../shared/errors.js'

/** The longest `name` pattern accepted: names are at most 255 characters, patterns rarely longer. */
export const MAX_NAME_PATTERN = 1024

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
  let re: RE2JS
  try {
    re = RE2JS.compile(pattern)
  } catch (err) {
    const why = err instanceof Error ? err.message : 'invalid'
    throw new InvalidError(`Invalid regular expression in the name filter: ${why}`)
  }
  return (name) => re.test(name)
}
