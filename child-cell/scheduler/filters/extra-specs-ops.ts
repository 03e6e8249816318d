/**
 * Nova's extra-spec operators (nova/scheduler/filters/extra_specs_ops.py), used by
 * ComputeCapabilitiesFilter to compare a flavor's requirement with a host's capability.
 *
 * A requirement is either a plain string (exact match), or an operator followed by operands:
 * - numeric: `= 4` (at least 4: Nova's `=` means `>=`), `== 4`, `!= 4`, `>= 4`, `<= 4`;
 * - string: `s== x`, `s!= x`, `s< x`, `s<= x`, `s> x`, `s>= x`;
 * - `<in> sub` (the value contains `sub`), `<all-in> a b` (contains each),
 *   `<or> a <or> b` (equals one of them).
 * Only the first operand counts for single-operand operators. Where Nova would raise (a non-numeric
 * value under a numeric operator, a bare `<or>`), the requirement is simply not met.
 */

/** A compiled requirement: does this capability value satisfy it? */
export type ExtraSpecMatcher = (value: string) => boolean

const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$|^[+-]?(?:inf|infinity|nan)$/i

/** Python's `float()` on a string; NaN where Python would raise. */
function pyFloat(text: string): number {
  // Fast path for plain decimals such as '2' or '16.0' (JavaScript also takes '', '0x1f', '0b1' and
  // 'Infinity', which Python refuses or spells differently: those go through the exact pattern).
  const c0 = text.charCodeAt(0)
  if (c0 >= 48 && c0 <= 57 && (text.length === 1 || text.charCodeAt(1) < 58)) {
    const n = Number(text)
    if (!Number.isNaN(n)) return n
  }
  const t = text.trim()
  if (!FLOAT.test(t)) return NaN
  const lower = t.toLowerCase()
  if (lower.endsWith('inf') || lower.endsWith('infinity')) return lower.startsWith('-') ? -Infinity : Infinity
  return Number(t)
}

function numeric(test: (a: number, b: number) => boolean): (x: string, y: string) => boolean {
  return (x, y) => {
    const a = pyFloat(x)
    const b = pyFloat(y)
    return !Number.isNaN(a) && !Number.isNaN(b) && test(a, b)
  }
}

const SINGLE: Readonly<Record<string, (value: string, operand: string) => boolean>> = {
  '=': numeric((a, b) => a >= b),
  '==': numeric((a, b) => a === b),
  '!=': numeric((a, b) => a !== b),
  '>=': numeric((a, b) => a >= b),
  '<=': numeric((a, b) => a <= b),
  '<in>': (x, y) => x.includes(y),
  's==': (x, y) => x === y,
  's!=': (x, y) => x !== y,
  's<': (x, y) => x < y,
  's<=': (x, y) => x <= y,
  's>': (x, y) => x > y,
  's>=': (x, y) => x >= y,
}

/** Parses a requirement once; the result is applied to every host. */
export function compileExtraSpec(req: string): ExtraSpecMatcher {
  const words = req.split(/\s+/).filter((w) => w !== '')
  const op = words.shift()
  if (op === '<or>') {
    // Nova alternates operand / keyword: `<or> a <or> b`.
    const options = words.filter((_, i) => i % 2 === 0)
    return options.length === 0 ? () => false : (value) => options.includes(value)
  }
  if (op === '<all-in>') {
    return words.length === 0 ? () => false : (value) => words.every((w) => value.includes(w))
  }
  const method = op === undefined || !Object.hasOwn(SINGLE, op) ? undefined : SINGLE[op]
  if (method === undefined) return (value) => value === req
  const operand = words[0]
  return operand === undefined ? () => false : (value) => method(value, operand)
}

/** Nova's `extra_specs_ops.match(value, req)`. */
export function matchExtraSpec(value: string, req: string): boolean {
  return compileExtraSpec(req)(value)
}
