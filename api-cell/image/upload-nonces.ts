/**
 * The nonces of signed upload URLs already used (see `FileUrlSigner.signedUploadUrls`): a URL is
 * a capability for one upload, so a replay is refused even while it has not expired. Entries are
 * forgotten once their URL expired (an expired URL fails its signature check anyway). In memory:
 * the image listener of the API cell is one process; a replay that reaches another process still
 * finds the image no longer `queued` and is refused by the image's state.
 */
export class UsedNonces {
  readonly #seen = new Map<string, number>()
  readonly #clock: () => number

  constructor(clock: () => number = Date.now) {
    this.#clock = clock
  }

  /** True the first time `key` is presented before `expiresAtMs`; false for every replay. */
  consume(key: string, expiresAtMs: number): boolean {
    const now = this.#clock()
    for (const [k, at] of this.#seen) if (at <= now) this.#seen.delete(k)
    if (this.#seen.has(key)) return false
    this.#seen.set(key, expiresAtMs)
    return true
  }
}
