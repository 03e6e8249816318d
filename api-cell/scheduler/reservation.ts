import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../shared/context.js'

/**
 * Where one build ended up. `gone`: its build request vanished (deleted, or taken over by a newer
 * attempt). A failure names the `attempt` (the spec's `retry.attempt`) it was the outcome of: a
 * leaf may hand the build back meanwhile, and the newer attempt then owns the build request.
 */
export type PlaceOutcome =
  | { readonly kind: 'placed'; readonly cellPath: string; readonly host: string }
  | { readonly kind: 'refused'; readonly reasons: readonly string[]; readonly attempt: number }
  /** No definite answer before the placement deadline: treated as a failure (cell0). */
  | { readonly kind: 'unknown'; readonly cellPath: string; readonly reasons: readonly string[]; readonly attempt: number }
  | { readonly kind: 'gone' }

/** How a build comes to cell0: taken back after a cell accepted it, or failed at one attempt. */
export type Cell0Cause =
  /** A cell had accepted the build (a multi-create rolled back): it is told to delete its copy. */
  | { readonly placed: { readonly cellPath: string; readonly spec: BuildSpec } }
  /** The placement of this attempt failed: recorded only if no newer attempt took the build over. */
  | { readonly attempt: number }

/** What {@link placeReservation} needs of the global scheduler (BuildDispatcher implements it). */
export interface Placer {
  /** The pending build specs among `uuids`. */
  buildSpecs(uuids: readonly string[]): Promise<BuildSpec[]>
  /** Places one build without touching cell0. */
  place(ctx: RequestContext, uuid: string): Promise<PlaceOutcome>
  /** Places one build, or records it in cell0. */
  dispatch(ctx: RequestContext, uuid: string): Promise<void>
  /** Records a build in cell0 (see {@link Cell0Cause}). */
  toCell0(ctx: RequestContext, uuid: string, reasons: readonly string[], cause: Cell0Cause): Promise<void>
}

/**
 * Multi-create (`min_count` / `max_count`) scheduled all or nothing within `min_count`: the
 * instances with launch index below `min_count` are placed together; if any of them finds no cell,
 * every instance of the request ends in cell0 in ERROR, and the ones already placed are taken back
 * (recorded in cell0 first, then deleted in their cells). Once the `min_count` are placed, the
 * others (up to `max_count`) are placed one by one, and those that fit nowhere end in ERROR alone.
 *
 * "Placed" is the ACK of a leaf, which has claimed the resources: a spawn that fails afterwards is
 * rescheduled like any other build and does not undo the request.
 *
 * After an API restart the builds still pending are re-driven the same way, but instances placed
 * before the restart are counted as placed and are not taken back.
 */
export async function placeReservation(d: Placer, ctx: RequestContext, uuids: readonly string[]): Promise<void> {
  const specs = (await d.buildSpecs(uuids)).sort((a, b) => a.launchIndex - b.launchIndex)
  const min = Math.max(1, ...specs.map((s) => s.minCount ?? 1))
  if (min <= 1) {
    await Promise.all(specs.map((s) => d.dispatch(ctx, s.instanceUuid)))
    return
  }
  const required = specs.filter((s) => s.launchIndex < min)
  const extra = specs.filter((s) => s.launchIndex >= min)
  const outcomes: PlaceOutcome[] = await Promise.all(required.map((s) => d.place(ctx, s.instanceUuid)))
  const refused = outcomes.flatMap((o) => (o.kind === 'refused' || o.kind === 'unknown' ? [o] : []))
  if (refused.length === 0) {
    await Promise.all(extra.map((s) => d.dispatch(ctx, s.instanceUuid)))
    return
  }
  const placed = outcomes.filter((o) => o.kind === 'placed' || o.kind === 'gone').length
  const why = `Only ${placed} of min_count ${min} instances of reservation ${specs[0]?.reservationId ?? ''} could be scheduled: ${refused[0]?.reasons.join('; ') ?? ''}`
  await Promise.all([
    ...required.map((s, i) => {
      const o = outcomes[i]
      if (o?.kind === 'placed') return d.toCell0(ctx, s.instanceUuid, [why], { placed: { cellPath: o.cellPath, spec: s } })
      if (o?.kind === 'refused' || o?.kind === 'unknown') return d.toCell0(ctx, s.instanceUuid, [why], { attempt: o.attempt })
      return Promise.resolve()
    }),
    ...extra.map((s) => d.toCell0(ctx, s.instanceUuid, [why], { attempt: s.retry?.attempt ?? 0 })),
  ])
}
