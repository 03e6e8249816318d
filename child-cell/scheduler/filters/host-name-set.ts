/**
 * A multiset of host names tuned for "is this host one of a few, and how many times?", asked once
 * per host per decision by RetryFilter, the server-group filters and weighers and the
 * same/different-host filters. Most answers are "no", and a 64-kbit sketch of a few characters of
 * each name gives it in a few nanoseconds, where a `Set`/`Map` lookup costs about 20 ns: a quarter of
 * the whole decision budget at 10,000 hosts. A sketch hit falls back to the exact map, so answers
 * are always exact.
 */
export class HostNameSet {
  /** Distinct names. */
  readonly size: number
  readonly #counts = new Map<string, number>()
  readonly #sketch = new Uint8Array(8192)
  /** With a few names, comparing them one by one beats any hashing. */
  readonly #few: readonly string[] | undefined

  /** `names` may repeat (one entry per server-group member, say): {@link count} counts them. */
  constructor(names: Iterable<string>) {
    for (const name of names) {
      this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1)
      const key = sketchKey(name)
      this.#sketch[key >>> 3] = (this.#sketch[key >>> 3] as number) | (1 << (key & 7))
    }
    this.size = this.#counts.size
    this.#few = this.size <= FEW ? [...this.#counts.keys()] : undefined
  }

  /** Whether `name` is in the set. */
  has(name: string): boolean {
    return this.count(name) > 0
  }

  /** How many times `name` was given. */
  count(name: string): number {
    const few = this.#few
    if (few !== undefined) {
      for (let i = 0; i < few.length; i++) if (few[i] === name) return this.#counts.get(name) ?? 0
      return 0
    }
    const key = sketchKey(name)
    if (((this.#sketch[key >>> 3] as number) & (1 << (key & 7))) === 0) return 0
    return this.#counts.get(name) ?? 0
  }
}

const FEW = 4

/** Mixes the length, the last four characters, the first and the middle one (names usually differ
 * in a trailing number, sometimes in a leading or middle label). */
function sketchKey(name: string): number {
  const n = name.length
  if (n === 0) return 0
  let h = n
  h = Math.imul(h, 31) + name.charCodeAt(n - 1)
  if (n > 1) h = Math.imul(h, 31) + name.charCodeAt(n - 2)
  if (n > 2) h = Math.imul(h, 31) + name.charCodeAt(n - 3)
  if (n > 3) h = Math.imul(h, 31) + name.charCodeAt(n - 4)
  h = Math.imul(h, 31) + name.charCodeAt(0)
  h = Math.imul(h, 31) + name.charCodeAt(n >>> 1)
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)
  return (h ^ (h >>> 16)) & 0xffff
}
