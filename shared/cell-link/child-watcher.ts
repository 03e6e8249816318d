import type { Logger } from '../logging.js'
import { InvalidError } from '../errors.js'
import type { CellTls } from './cell-tls.js'
import { GrpcCellClient } from './grpc-client.js'
import { outsideSubtree } from './rpc-access.js'
import type { CellCapacity, CellUpdate, FlavorShape, InstanceEvent } from './types.js'

/** One direct child as its parent knows it. */
export interface ChildEndpoint {
  readonly path: string
  readonly address: string
}

/** What the parent does with what its children send up. */
export interface ChildSink {
  /** The parent's resume point for this child's events. */
  loadCursor(childPath: string): Promise<number>
  /**
   * Applies a batch durably (newer versions only) and stores `cursor` with it. Only after this
   * resolves is the child told it may forget the batch.
   */
  applyEvents(childPath: string, events: readonly InstanceEvent[], cursor: number): Promise<void>
  /** A fresh capacity report of the child's subtree arrived. */
  onCapacity(childPath: string, cells: readonly CellCapacity[]): void
}

interface ChildState {
  readonly endpoint: ChildEndpoint
  readonly client: GrpcCellClient
  cells: readonly CellCapacity[]
  lastSeen: number
  cancel: (() => void) | undefined
  retry: NodeJS.Timeout | undefined
  chain: Promise<void>
}

/**
 * Keeps one Watch stream open to each child, reconnecting after any failure from the last cursor
 * the parent applied, serialising event batches per child, and acknowledging them once durable.
 * A child whose last report is older than `downAfterMs` is reported down (`up: false`).
 */
export class ChildWatcher {
  readonly #parentPath: string
  readonly #sink: ChildSink
  readonly #log: Logger
  readonly #downAfterMs: number
  readonly #tls: CellTls
  readonly #children = new Map<string, ChildState>()
  #flavors: readonly FlavorShape[] = []
  #stopped = false

  constructor(args: { parentPath: string; sink: ChildSink; log: Logger; downAfterMs: number; tls: CellTls }) {
    if (args.tls.cellPath !== args.parentPath) throw new Error(`the TLS identity of ${args.tls.cellPath} cannot watch children of ${args.parentPath}`)
    this.#parentPath = args.parentPath
    this.#tls = args.tls
    this.#sink = args.sink
    this.#log = args.log
    this.#downAfterMs = args.downAfterMs
  }

  /** Starts watching `endpoint` (replacing an older endpoint of the same path). */
  add(endpoint: ChildEndpoint): void {
    const old = this.#children.get(endpoint.path)
    if (old !== undefined && old.endpoint.address === endpoint.address) return
    if (old !== undefined) this.remove(endpoint.path)
    const st: ChildState = {
      endpoint,
      client: new GrpcCellClient({ address: endpoint.address, childPath: endpoint.path, tls: this.#tls }),
      cells: [],
      lastSeen: 0,
      cancel: undefined,
      retry: undefined,
      chain: Promise.resolve(),
    }
    this.#children.set(endpoint.path, st)
    void this.#open(st)
  }

  remove(path: string): void {
    const st = this.#children.get(path)
    if (st === undefined) return
    this.#children.delete(path)
    st.cancel?.()
    if (st.retry !== undefined) clearTimeout(st.retry)
    st.client.close()
  }

  /** The client of a direct child, to send builds and actions down. */
  client(path: string): GrpcCellClient | undefined {
    return this.#children.get(path)?.client
  }

  paths(): string[] {
    return [...this.#children.keys()]
  }

  /** Sets the flavors children report fits for; reconnects the streams when they changed. */
  setFlavors(flavors: readonly FlavorShape[]): void {
    const key = (fs: readonly FlavorShape[]): string => JSON.stringify([...fs].sort((a, b) => a.id.localeCompare(b.id)))
    if (key(flavors) === key(this.#flavors)) return
    this.#flavors = [...flavors]
    for (const st of this.#children.values()) {
      st.cancel?.()
      st.cancel = undefined
      void this.#open(st)
    }
  }

  /**
   * Every cell entry reported by the children, with `up` turned false for children silent longer
   * than the down interval (and for all their descendants).
   */
  reports(now = Date.now()): CellCapacity[] {
    const out: CellCapacity[] = []
    for (const st of this.#children.values()) {
      const fresh = now - st.lastSeen <= this.#downAfterMs
      for (const c of st.cells) out.push(fresh ? c : { ...c, up: false })
    }
    return out
  }

  /** The aggregate entry of each direct child (what a parent schedules on). */
  childAggregates(now = Date.now()): CellCapacity[] {
    const out: CellCapacity[] = []
    for (const st of this.#children.values()) {
      const agg = st.cells.find((c) => c.path === st.endpoint.path)
      const fresh = now - st.lastSeen <= this.#downAfterMs
      if (agg !== undefined) out.push(fresh ? agg : { ...agg, up: false })
      else out.push(downPlaceholder(st.endpoint.path))
    }
    return out
  }

  async #open(st: ChildState): Promise<void> {
    if (this.#stopped || this.#children.get(st.endpoint.path) !== st) return
    let cursor: number
    try {
      cursor = await this.#sink.loadCursor(st.endpoint.path)
    } catch (err) {
      this.#log.warn({ child: st.endpoint.path, err: String(err) }, 'cannot load cursor, retrying')
      this.#scheduleRetry(st)
      return
    }
    const cancel = st.client.watch(
      { parentPath: this.#parentPath, cursor, flavors: this.#flavors },
      (received) => {
        const u = this.#withinSubtree(st.endpoint.path, received)
        st.lastSeen = Date.now()
        if (u.kind === 'capacity') {
          st.cells = u.cells
          this.#sink.onCapacity(st.endpoint.path, u.cells)
          return
        }
        st.chain = st.chain.then(async () => {
          try {
            await this.#sink.applyEvents(st.endpoint.path, u.events, u.cursor)
            await st.client.ackEvents({ parentPath: this.#parentPath, cursor: u.cursor })
          } catch (err) {
            this.#log.warn({ child: st.endpoint.path, err: String(err) }, 'applying events failed, reconnecting')
            st.cancel?.()
            st.cancel = undefined
            this.#scheduleRetry(st)
          }
        })
      },
      (err) => {
        if (st.cancel !== cancel) return
        st.cancel = undefined
        // An update this cell could not read (event-mapping.ts) is the child's fault: say so.
        if (err instanceof InvalidError) this.#log.warn({ child: st.endpoint.path, err: err.message }, 'unreadable update from the child: none of it applied, reading again')
        else if (!this.#stopped) this.#log.debug({ child: st.endpoint.path, err: err?.message }, 'watch stream ended')
        this.#scheduleRetry(st)
      },
    )
    st.cancel = cancel
  }

  /**
   * The update without anything about cells outside the child's subtree: a child speaks for
   * itself and its descendants only (a compromised leaf must not move a sibling's instances).
   */
  #withinSubtree(child: string, u: CellUpdate): CellUpdate {
    const dropped = (n: number): void => this.#log.warn({ child, dropped: n, kind: u.kind }, 'dropped updates about cells outside the child subtree')
    if (u.kind === 'capacity') {
      const stray = outsideSubtree(child, u.cells, (c) => c.path)
      if (stray.length === 0) return u
      dropped(stray.length)
      return { ...u, cells: u.cells.filter((c) => !stray.includes(c)) }
    }
    const stray = outsideSubtree(child, u.events, (e) => e.cellPath)
    if (stray.length === 0) return u
    dropped(stray.length)
    return { ...u, events: u.events.filter((e) => !stray.includes(e)) }
  }

  #scheduleRetry(st: ChildState): void {
    if (this.#stopped || st.retry !== undefined) return
    st.retry = setTimeout(() => {
      st.retry = undefined
      if (st.cancel === undefined) void this.#open(st)
    }, 500)
    st.retry.unref()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    for (const path of [...this.#children.keys()]) this.remove(path)
  }
}

function downPlaceholder(path: string): CellCapacity {
  return {
    path,
    up: false,
    disabled: false,
    hostsUp: 0,
    hostsTotal: 0,
    instances: 0,
    ramFreeMb: 0,
    ramTotalMb: 0,
    vcpusFree: 0,
    vcpusTotal: 0,
    diskFreeGb: 0,
    diskTotalGb: 0,
    availabilityZones: [],
    hypervisorTypes: [],
    cpuArchs: [],
    flavorFits: {},
    generatedAtMs: 0,
    aggregate: true,
  }
}
