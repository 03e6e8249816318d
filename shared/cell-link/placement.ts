import { setTimeout as sleep } from 'node:timers/promises'
import type { RequestContext } from '../context.js'
import { AppError } from '../errors.js'
import type { BuildCall, CellLink } from './types.js'

/**
 * How a build sent down the tree ended, as the sender sees it. Only `refused` is safe to route
 * elsewhere: after `unknown` (timeout, dropped link, lost reply) the child may hold the instance,
 * so the build is asked of the same child again (idempotent by instance uuid) until the deadline.
 */
export type PlacementOutcome =
  | { readonly kind: 'placed'; readonly cellPath: string; readonly host: string }
  | { readonly kind: 'refused'; readonly reasons: readonly string[] }
  | { readonly kind: 'unknown'; readonly cellPath: string; readonly reasons: readonly string[] }

/**
 * Error codes with which a child says, definitely, that it kept nothing of the build. Everything
 * else (timeouts, unreachable cells, internal errors, errors that are not ours) leaves the
 * outcome unknown.
 */
const DEFINITE_REFUSALS: ReadonlySet<string> = new Set([
  'no_valid_host',
  'invalid',
  'not_found',
  'forbidden',
  'unauthorized',
  'conflict',
  'over_quota',
  'not_implemented',
])

/** `refused` when `err` says for sure the callee kept nothing, else `unknown`. */
export function outcomeOfError(err: unknown): 'refused' | 'unknown' {
  return err instanceof AppError && DEFINITE_REFUSALS.has(err.code) ? 'refused' : 'unknown'
}

/** Back-off between two asks of the same child after an unknown outcome. */
export interface RetryPolicy {
  /** First pause, in ms (default 100). */
  readonly initialMs?: number
  /** Longest pause, in ms (default 2000). */
  readonly maxMs?: number
  /** Longest single call, in ms, so that a hung child is asked again within the deadline (default 15000). */
  readonly perCallMs?: number
}

/** What {@link placeAcrossChildren} needs. */
export interface PlaceArgs {
  /** Carries the request id, the caller and the deadline of the whole placement (required). */
  readonly ctx: RequestContext & { readonly deadline: number }
  readonly call: BuildCall
  /** Children paths ranked best first (the cell filters and weighers). */
  readonly ranked: readonly string[]
  /** Children asked at most (a child asked again after an unknown outcome counts once). */
  readonly maxAttempts: number
  readonly clientFor: (path: string) => CellLink | undefined
  /**
   * The child an earlier attempt of this very build was sent to without a definite answer (read
   * from durable memory): asked first, whatever the ranking says, since it may hold the instance.
   */
  readonly remembered?: string | undefined
  /** Durably notes the child the build is about to be sent to (before it is sent). */
  readonly remember: (path: string) => Promise<void>
  /** Forgets that note once the child refused. */
  readonly forget: (path: string) => Promise<void>
  readonly retry?: RetryPolicy
  /** Called on each unknown outcome (for logs). */
  readonly onUnknown?: (path: string, err: unknown) => void
}

/**
 * The one "place across my children" routine of the API cell and of every cell agent. Children
 * are asked in order; a NACK or a definite refusal moves on to the next child; an unknown outcome
 * asks the same child again, with back-off, until it answers or `ctx.deadline` passes, and then
 * the whole placement is `unknown` (never routed elsewhere). The child is remembered durably
 * before each send, so a restarted sender asks the same child first (see `remembered`).
 *
 * @example
 *   const out = await placeAcrossChildren({ ctx, call, ranked, maxAttempts: 3, clientFor, remember, forget })
 *   if (out.kind === 'unknown') throw new CellUnreachableError(out.reasons.join('; '))
 */
export async function placeAcrossChildren(a: PlaceArgs): Promise<PlacementOutcome> {
  const reasons: string[] = []
  const tried = [...a.call.triedCells]
  const order = a.remembered === undefined || a.remembered === '' ? [...a.ranked] : [a.remembered, ...a.ranked.filter((p) => p !== a.remembered)]
  let attempts = 0
  for (const path of order) {
    if (attempts >= a.maxAttempts) break
    const client = a.clientFor(path)
    if (client === undefined) {
      reasons.push(`${path}: no link to this cell`)
      continue
    }
    attempts += 1
    await a.remember(path)
    const out = await askUntilAnswered(a, path, client, tried)
    if (out.kind === 'placed') return out
    if (out.kind === 'unknown') return { kind: 'unknown', cellPath: path, reasons: [...reasons, ...out.reasons] }
    reasons.push(...out.reasons)
    tried.push(path)
    await a.forget(path)
  }
  return { kind: 'refused', reasons }
}

/** Asks one child until it answers definitely, or the deadline passes. */
async function askUntilAnswered(a: PlaceArgs, path: string, client: CellLink, tried: readonly string[]): Promise<PlacementOutcome> {
  const out = await untilDefinite({
    deadline: a.ctx.deadline,
    ...(a.retry === undefined ? {} : { retry: a.retry }),
    attempt: (callDeadline) => client.build({ ...a.ctx, deadline: callDeadline }, { ...a.call, triedCells: [...tried] }),
    onUnknown: (err) => a.onUnknown?.(path, err),
  })
  if (out.kind === 'unknown') return { kind: 'unknown', cellPath: path, reasons: [`${path}: outcome unknown at the deadline (${out.last})`] }
  if (out.kind === 'refused') return { kind: 'refused', reasons: [`${path}: ${messageOf(out.err)}`] }
  if (out.value.accepted) return { kind: 'placed', cellPath: out.value.cellPath, host: out.value.host }
  return { kind: 'refused', reasons: [`${path}: ${out.value.reason}`] }
}

/** What {@link untilDefinite} ended with. */
export type DefiniteAnswer<T> =
  | { readonly kind: 'answered'; readonly value: T }
  | { readonly kind: 'refused'; readonly err: unknown }
  | { readonly kind: 'unknown'; readonly last: string }

/**
 * Calls `attempt` (idempotent: the same request every time) until it answers or fails definitely
 * (see {@link outcomeOfError}), with jittered back-off after each unknown outcome, until `deadline`.
 * Each attempt gets its own deadline, at most `retry.perCallMs` away, so a hung callee is asked
 * again rather than waited on to the end.
 */
export async function untilDefinite<T>(args: {
  readonly deadline: number
  readonly retry?: RetryPolicy
  readonly attempt: (callDeadline: number) => Promise<T>
  readonly onUnknown?: (err: unknown) => void
}): Promise<DefiniteAnswer<T>> {
  const max = args.retry?.maxMs ?? 2000
  const perCall = args.retry?.perCallMs ?? 15_000
  let pause = args.retry?.initialMs ?? 100
  let last = 'no answer'
  for (;;) {
    const left = args.deadline - Date.now()
    if (left <= 0) return { kind: 'unknown', last }
    try {
      return { kind: 'answered', value: await args.attempt(Date.now() + Math.min(left, perCall)) }
    } catch (err) {
      if (outcomeOfError(err) === 'refused') return { kind: 'refused', err }
      last = messageOf(err)
      args.onUnknown?.(err)
    }
    const wait = Math.min(pause, Math.max(0, args.deadline - Date.now()))
    // Jitter, so that many builds waiting on one callee do not come back at once.
    await sleep(wait / 2 + Math.random() * (wait / 2))
    pause = Math.min(max, pause * 2)
  }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/**
 * The deadline a cell gives its own placement when its parent's call ends at `deadline`: a
 * margin earlier, so that it answers (placed, refused, or unknown) before the parent gives up on
 * the call. Deadlines thus shrink down the tree.
 */
export function childDeadline(deadline: number, now = Date.now()): number {
  const left = Math.max(0, deadline - now)
  return now + left - Math.min(1000, left * 0.1)
}
