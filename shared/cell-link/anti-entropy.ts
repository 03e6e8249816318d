import type { InstanceRecord } from './build-spec.js'
import type { RequestContext } from '../context.js'
import { systemContext } from '../context.js'
import type { Logger } from '../logging.js'
import { indexDriftFound, indexDriftRepaired } from '../metrics/cell-metrics.js'
import type { CellLink, InstanceEvent, InstanceIndexPayload, InstanceVersion } from './types.js'

/** Instance versions asked per ListInstanceVersions page (the child caps it at the same value). */
export const VERSION_PAGE_SIZE = 1000
/** Records fetched per GetInstances call while repairing. */
const REPAIR_CHUNK = 200

/** The parent's side of a reconciliation: its own index of a child's subtree. */
export interface ReconcileTarget {
  /** Of one page of the child's truth, the instances this parent's index does not match. */
  differing(childPath: string, page: readonly InstanceVersion[]): Promise<InstanceVersion[]>
  /** Writes the child's current records (as events) into the index; returns how many rows changed. */
  repair(childPath: string, events: readonly InstanceEvent[]): Promise<number>
}

/** What one pass over one child found. */
export interface ReconcileResult {
  readonly child: string
  readonly checked: number
  readonly differing: number
  readonly repaired: number
}

/** The index fields of a full instance record (the same ones an upward event carries). */
export function indexPayloadOf(r: InstanceRecord): InstanceIndexPayload {
  return {
    uuid: r.uuid,
    projectId: r.projectId,
    userId: r.userId,
    name: r.name,
    vmState: r.vmState,
    taskState: r.taskState,
    powerState: r.powerState,
    host: r.host,
    availabilityZone: r.availabilityZone,
    flavorId: r.flavor.id,
    imageRef: r.imageRef,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    deleted: r.deleted,
    ...(r.tags === undefined ? {} : { tags: r.tags }),
  }
}

/**
 * One anti-entropy pass over one child: pages through the versions the child's subtree holds (by
 * uuid, so memory stays bounded at 100,000 instances and more), asks `target` which differ from
 * the parent's index, fetches the current records of those from the leaves (GetInstances, routed
 * down), and hands them to `target.repair`. Events lost, withheld or applied out of order, and
 * index rows dropped or corrupted, are all repaired by the pass after they happen.
 */
export async function reconcileChild(args: {
  readonly childPath: string
  readonly link: Pick<CellLink, 'listInstanceVersions' | 'getInstances'>
  readonly target: ReconcileTarget
  readonly ctx?: RequestContext
  readonly pageSize?: number
}): Promise<ReconcileResult> {
  const ctx = args.ctx ?? systemContext()
  const pageSize = args.pageSize ?? VERSION_PAGE_SIZE
  let after = ''
  let checked = 0
  let differing = 0
  let repaired = 0
  for (;;) {
    const page = await args.link.listInstanceVersions(ctx, { afterUuid: after, limit: pageSize })
    checked += page.length
    const diffs = await args.target.differing(args.childPath, page)
    differing += diffs.length
    const byCell = new Map<string, string[]>()
    for (const d of diffs) byCell.set(d.cellPath, [...(byCell.get(d.cellPath) ?? []), d.uuid])
    for (const [cellPath, uuids] of byCell) {
      for (let i = 0; i < uuids.length; i += REPAIR_CHUNK) {
        const records = (await args.link.getInstances(ctx, { cellPath, uuids: uuids.slice(i, i + REPAIR_CHUNK) })) as InstanceRecord[]
        const events: InstanceEvent[] = records
          // A build a leaf handed back up (deleted there in ERROR) travels only in its event, with
          // the build spec: rewriting the index from the record would show it deleted instead.
          .filter((r) => !(r.deleted && r.vmState === 'error'))
          .map((r) => ({ instanceUuid: r.uuid, version: r.version, cellPath: r.cellPath, payload: indexPayloadOf(r) }))
        if (events.length > 0) repaired += await args.target.repair(args.childPath, events)
      }
    }
    const last = page[page.length - 1]
    if (page.length < pageSize || last === undefined) break
    after = last.uuid
  }
  return { child: args.childPath, checked, differing, repaired }
}

/**
 * Runs {@link reconcileChild} over every child every `intervalMs` (one pass at a time; a child that
 * is down is skipped until the next pass). Bounds how long any drift between a parent's index and
 * its subtree's truth can last: about one interval plus the pass itself.
 */
export class AntiEntropyLoop {
  readonly #intervalMs: number
  readonly #children: () => ReadonlyArray<{ readonly path: string; readonly link: Pick<CellLink, 'listInstanceVersions' | 'getInstances'> }>
  readonly #target: ReconcileTarget
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined
  #running: Promise<ReconcileResult[]> | undefined

  constructor(args: {
    readonly intervalMs: number
    readonly children: () => ReadonlyArray<{ readonly path: string; readonly link: Pick<CellLink, 'listInstanceVersions' | 'getInstances'> }>
    readonly target: ReconcileTarget
    readonly log: Logger
  }) {
    this.#intervalMs = args.intervalMs
    this.#children = args.children
    this.#target = args.target
    this.#log = args.log
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => void this.runOnce(), this.#intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** One pass over every child now (joins the pass already running, if any). */
  runOnce(): Promise<ReconcileResult[]> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  async #pass(): Promise<ReconcileResult[]> {
    const out: ReconcileResult[] = []
    for (const c of this.#children()) {
      try {
        const r = await reconcileChild({ childPath: c.path, link: c.link, target: this.#target })
        out.push(r)
        indexDriftFound.inc({ child: c.path }, r.differing)
        indexDriftRepaired.inc({ child: c.path }, r.repaired)
        if (r.repaired > 0) this.#log.warn({ ...r }, 'anti-entropy repaired index drift')
      } catch (err) {
        this.#log.debug({ child: c.path, err: String(err) }, 'anti-entropy pass skipped a child')
      }
    }
    return out
  }
}
