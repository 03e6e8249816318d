import { useCallback, useEffect, useRef, useState } from 'preact/hooks'

/** What {@link usePoll} holds: the latest answer, the latest error, and a way to reload at once. */
export interface Polled<T> {
  readonly data: T | undefined
  readonly error: Error | undefined
  readonly reload: () => void
}

/**
 * Calls `load` now and every `everyMs` while the view is shown (the dashboard's "live": reports
 * reach the API every few seconds, so polling the API shows them as they arrive). `key` changes
 * restart it (another cell, another page). A slow answer never overlaps the next call.
 */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, key: string): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<Error | undefined>(undefined)
  const loadRef = useRef(load)
  loadRef.current = load
  const [tick, setTick] = useState(0)
  const reload = useCallback(() => setTick((t) => t + 1), [])
  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const run = async (): Promise<void> => {
      try {
        const v = await loadRef.current()
        if (!stopped) {
          setData(v)
          setError(undefined)
        }
      } catch (err) {
        if (!stopped) setError(err instanceof Error ? err : new Error(String(err)))
      }
      if (!stopped) timer = setTimeout(() => void run(), everyMs)
    }
    void run()
    return () => {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [key, everyMs, tick])
  return { data, error, reload }
}
