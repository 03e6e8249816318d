import { describe, expect, it } from 'vitest'
import type { PlaceArgs } from '../../../../shared/cell-link/placement.js'
import { childDeadline, outcomeOfError, placeAcrossChildren } from '../../../../shared/cell-link/placement.js'
import type { BuildCall, BuildOutcome, CellLink } from '../../../../shared/cell-link/types.js'
import {
  AppError,
  CellUnreachableError,
  ConflictError,
  InternalError,
  InvalidError,
  NoValidHostError,
  RpcTimeoutError,
} from '../../../../shared/errors.js'
import { buildSpecFixture } from '../../../helpers/build-spec.js'

/** What a scripted child does on each successive Build call. */
type Step = BuildOutcome | Error

/** A child whose answers are scripted; it records each call. */
function child(path: string, steps: Step[]): CellLink & { calls: BuildCall[] } {
  const calls: BuildCall[] = []
  const link = {
    calls,
    async build(_ctx: unknown, call: BuildCall): Promise<BuildOutcome> {
      calls.push(call)
      const step = steps.length > 1 ? steps.shift() : steps[0]
      if (step === undefined) throw new Error(`${path}: no script`)
      if (step instanceof Error) throw step
      return step
    },
  }
  return link as unknown as CellLink & { calls: BuildCall[] }
}

const placed = (cellPath: string): BuildOutcome => ({ accepted: true, cellPath, host: `${cellPath}-h1` })
const nack = (reason: string): BuildOutcome => ({ accepted: false, reason })

function args(children: Record<string, CellLink>, over: Partial<PlaceArgs> = {}) {
  const memory: Array<[string, string]> = []
  const a: PlaceArgs = {
    ctx: { requestId: 'req-1', deadline: Date.now() + 2000 },
    call: { instanceUuid: 'u1', spec: buildSpecFixture({ instanceUuid: 'u1' }), triedCells: [] },
    ranked: Object.keys(children),
    maxAttempts: 3,
    clientFor: (p) => children[p],
    remember: async (p) => {
      memory.push(['remember', p])
    },
    forget: async (p) => {
      memory.push(['forget', p])
    },
    retry: { initialMs: 1, maxMs: 5, perCallMs: 500 },
    ...over,
  }
  return { a, memory }
}

describe('outcomeOfError', () => {
  it.each([
    ['no valid host', new NoValidHostError('full'), 'refused'],
    ['invalid', new InvalidError('bad spec version'), 'refused'],
    ['conflict', new ConflictError('state'), 'refused'],
    ['rpc timeout', new RpcTimeoutError('slow'), 'unknown'],
    ['unreachable cell', new CellUnreachableError('link down'), 'unknown'],
    ['internal error', new InternalError('boom'), 'unknown'],
    ['an error that is not ours', new Error('ECONNRESET'), 'unknown'],
    ['a string', 'weird', 'unknown'],
    ['an unknown code', new AppError({ code: 'mystery', status: 400, message: 'x' }), 'unknown'],
  ])('%s is %s', (_name, err, want) => {
    expect(outcomeOfError(err)).toBe(want)
  })
})

describe('placeAcrossChildren', () => {
  it('moves on after a NACK or a definite refusal, and says why each child refused', async () => {
    const a1 = child('a', [nack('full')])
    const b1 = child('b', [new NoValidHostError('no host with 64 GiB')])
    const c1 = child('c', [placed('c')])
    const { a, memory } = args({ a: a1, b: b1, c: c1 })
    const out = await placeAcrossChildren(a)
    expect(out).toEqual({ kind: 'placed', cellPath: 'c', host: 'c-h1' })
    // Each child hears which cells already said no.
    expect(c1.calls[0]?.triedCells).toEqual(['a', 'b'])
    expect(memory).toEqual([
      ['remember', 'a'],
      ['forget', 'a'],
      ['remember', 'b'],
      ['forget', 'b'],
      ['remember', 'c'],
    ])
  })

  it('asks the same child again after an unknown outcome, never another one', async () => {
    const a1 = child('a', [new CellUnreachableError('reply lost'), new RpcTimeoutError('slow'), placed('a')])
    const b1 = child('b', [placed('b')])
    const { a } = args({ a: a1, b: b1 })
    const out = await placeAcrossChildren(a)
    expect(out).toEqual({ kind: 'placed', cellPath: 'a', host: 'a-h1' })
    expect(a1.calls).toHaveLength(3)
    expect(b1.calls).toHaveLength(0)
  })

  it('ends unknown at the deadline when the child never answers, and leaves the others alone', async () => {
    const a1 = child('a', [new CellUnreachableError('link down')])
    const b1 = child('b', [placed('b')])
    const { a, memory } = args({ a: a1, b: b1 }, { ctx: { requestId: 'r', deadline: Date.now() + 150 } })
    const out = await placeAcrossChildren(a)
    expect(out.kind).toBe('unknown')
    expect(out.kind === 'unknown' ? out.cellPath : '').toBe('a')
    expect(a1.calls.length).toBeGreaterThan(1)
    expect(b1.calls).toHaveLength(0)
    // Still remembered: a restarted sender asks the same child first.
    expect(memory).toEqual([['remember', 'a']])
  })

  it('asks the remembered child first, whatever the ranking says', async () => {
    const a1 = child('a', [placed('a')])
    const b1 = child('b', [placed('b')])
    const { a } = args({ a: a1, b: b1 }, { remembered: 'b' })
    expect(await placeAcrossChildren(a)).toEqual({ kind: 'placed', cellPath: 'b', host: 'b-h1' })
    expect(a1.calls).toHaveLength(0)
  })

  it('counts attempts by children asked, skips children without a link, and refuses when all refuse', async () => {
    const a1 = child('a', [nack('full')])
    const c1 = child('c', [nack('disabled')])
    const d1 = child('d', [placed('d')])
    const { a } = args({ a: a1, c: c1, d: d1 }, { ranked: ['a', 'b', 'c', 'd'], maxAttempts: 2 })
    const out = await placeAcrossChildren(a)
    expect(out.kind).toBe('refused')
    expect(out.kind === 'refused' ? out.reasons : []).toEqual(['a: full', 'b: no link to this cell', 'c: disabled'])
    expect(d1.calls).toHaveLength(0)
  })

  it('gives each call a deadline no later than the placement deadline', async () => {
    const seen: number[] = []
    const a1 = {
      async build(ctx: { deadline?: number }) {
        seen.push(ctx.deadline ?? Infinity)
        return placed('a')
      },
    } as unknown as CellLink
    const deadline = Date.now() + 10_000
    const { a } = args({ a: a1 }, { ctx: { requestId: 'r', deadline }, retry: { perCallMs: 1000 } })
    await placeAcrossChildren(a)
    expect(seen[0]).toBeLessThanOrEqual(deadline)
    expect(seen[0]).toBeLessThan(deadline - 5000)
  })
})

describe('childDeadline', () => {
  it.each([
    [20_000, 19_000],
    [5_000, 4_500],
    [0, 0],
  ])('a call with %i ms left gives the child %i ms', (left, want) => {
    expect(childDeadline(1_000_000 + left, 1_000_000) - 1_000_000).toBe(want)
  })
})
