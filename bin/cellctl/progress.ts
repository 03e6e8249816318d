/** Where progress goes (process.stderr, or a fake in tests). */
export interface ProgressStream {
  readonly isTTY?: boolean
  write(text: string): unknown
}

/**
 * Progress of a long operation (host discovery over many cells) on one rewritten stderr line, only
 * when stderr is a terminal: logs and pipes stay clean.
 *
 * @example
 *   const p = new Progress(process.stderr, regions.length, 'discovering hosts')
 *   for (const r of regions) { p.step(r); await discover(r) }
 *   p.done()
 */
export class Progress {
  readonly #out: ProgressStream
  readonly #total: number
  readonly #what: string
  #n = 0
  #width = 0

  constructor(out: ProgressStream, total: number, what: string) {
    this.#out = out
    this.#total = total
    this.#what = what
  }

  /** Announces the next item. */
  step(item: string): void {
    this.#n += 1
    this.#line(`${this.#what}: [${this.#n}/${this.#total}] ${item}`)
  }

  /** Clears the line. */
  done(): void {
    if (this.#width > 0) this.#line('')
  }

  #line(text: string): void {
    if (this.#out.isTTY !== true) return
    this.#out.write(`\r${text.padEnd(this.#width)}${text === '' ? '\r' : ''}`)
    this.#width = Math.max(this.#width, text.length)
  }
}
