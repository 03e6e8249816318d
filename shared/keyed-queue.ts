/**
 * Runs tasks one at a time per key, in arrival order, and tasks of different keys concurrently.
 *
 * - The global scheduler places the builds of one server group through it: each build of the
 *   group is sent down only after the previous one was placed (or refused), with the members'
 *   hosts as they are then. That is what keeps hard affinity right under concurrent boots across
 *   cells (two first members could otherwise land in two cells, each seeing an empty group).
 * - A compute host runs the operations of one instance through it, keyed by the instance uuid
 *   (Nova's per-instance lock): a build asked again while the first attempt is still spawning (a
 *   lost answer, a redelivered message) waits for it and then finds the guest, rather than racing
 *   it over the same disk.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>()

  /** Runs `task` after every task queued before it under `key`; its outcome is returned. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve()
    const result = before.then(task, task)
    const tail = result.then(
      () => undefined,
      () => undefined,
    )
    this.#tails.set(key, tail)
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    })
    return result
  }

  /** Whether a task of `key` is queued or running. */
  busy(key: string): boolean {
    return this.#tails.has(key)
  }
}
