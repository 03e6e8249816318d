/**
 * Runs tasks one at a time per key, in arrival order, and tasks of different keys concurrently.
 *
 * The global scheduler places the builds of one server group through it: each build of the group
 * is sent down only after the previous one was placed (or refused), with the members' hosts as they
 * are then. That is what keeps hard affinity right under concurrent boots across cells (two first
 * members could otherwise land in two cells, each seeing an empty group), and it saves the leaves
 * lost claims for anti-affinity. Within a cell the claim enforces both policies atomically anyway.
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
