/**
 * Ordering summed weights, best first, for the pipeline. Ties keep candidate order (Nova sorts with
 * Python's stable sort). Three strategies, by how much of the order is wanted: a top-k by insertion
 * for the winner and a few alternates, a radix sort for a full ranking of many, a comparator sort for
 * a full ranking of few.
 */

/**
 * Positions in `total[0..m)` of the best `k`, best first, ties in position order. The result may be
 * a view of internal scratch space: use it before the next call.
 */
export function rankPositions(total: Float64Array, m: number, k: number): Int32Array {
  if (k <= 0) return new Int32Array(0)
  if (k <= 32 && k < m) return topK(total, m, k)
  const order = m > 64 ? radixOrder(total, m) : comparatorOrder(total, m)
  return k < m ? order.subarray(0, k) : order
}

/** Few wanted out of many: a sorted top-k kept by insertion (O(m) when k is small). */
function topK(total: Float64Array, m: number, k: number): Int32Array {
  const best = new Int32Array(k)
  let size = 0
  for (let r = 0; r < m; r++) {
    const w = total[r] as number
    if (size === k && !(w > (total[best[k - 1] as number] as number))) continue
    let j = size < k ? size++ : k - 1
    // Strictly-less shifts keep earlier candidates ahead of later ones with an equal weight.
    while (j > 0 && (total[best[j - 1] as number] as number) < w) {
      best[j] = best[j - 1] as number
      j--
    }
    best[j] = r
  }
  return best
}

function comparatorOrder(total: Float64Array, m: number): Int32Array {
  const order = Array.from({ length: m }, (_, r) => r)
  // Array#sort is stable, so equal weights keep their input order.
  order.sort((a, b) => (total[b] as number) - (total[a] as number))
  return Int32Array.from(order)
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
let radixKeys = new Float64Array(1024)
let radixA = new Int32Array(1024)
let radixB = new Int32Array(1024)
const radixCounts = new Uint32Array(8 * 256)

/**
 * All of `total[0..m)` best first, ties in position order: a stable LSD radix sort, one byte at a
 * time, on the bits of each weight (negated, so that ascending order is best first). For 10,000
 * weights it takes a fraction of a comparator sort, whose callback dominates.
 */
function radixOrder(total: Float64Array, m: number): Int32Array {
  if (radixKeys.length < m) {
    radixKeys = new Float64Array(total.length)
    radixA = new Int32Array(total.length)
    radixB = new Int32Array(total.length)
  }
  const keys = new Uint32Array(radixKeys.buffer, 0, 2 * m)
  const hiAt = LITTLE_ENDIAN ? 1 : 0
  const loAt = 1 - hiAt
  for (let r = 0; r < m; r++) radixKeys[r] = -(total[r] as number) + 0 // + 0 turns -0 into 0
  // Map IEEE-754 bit patterns to unsigned integers in numeric order; count digits for all passes.
  radixCounts.fill(0)
  for (let r = 0; r < m; r++) {
    let hi = keys[2 * r + hiAt] as number
    let lo = keys[2 * r + loAt] as number
    if ((hi & 0x80000000) !== 0) {
      hi = ~hi >>> 0
      lo = ~lo >>> 0
    } else {
      hi = (hi | 0x80000000) >>> 0
    }
    keys[2 * r + hiAt] = hi
    keys[2 * r + loAt] = lo
    for (let p = 0; p < 4; p++) {
      const dl = p * 256 + ((lo >>> (8 * p)) & 255)
      const dh = (p + 4) * 256 + ((hi >>> (8 * p)) & 255)
      radixCounts[dl] = (radixCounts[dl] as number) + 1
      radixCounts[dh] = (radixCounts[dh] as number) + 1
    }
  }
  let from = radixA
  let to = radixB
  for (let r = 0; r < m; r++) from[r] = r
  for (let p = 0; p < 8; p++) {
    const base = p * 256
    const word = p < 4 ? loAt : hiAt
    const shift = 8 * (p & 3)
    let sum = 0
    let skip = false
    for (let d = 0; d < 256; d++) {
      const c = radixCounts[base + d] as number
      if (c === m) skip = true
      radixCounts[base + d] = sum
      sum += c
    }
    if (skip) continue // every key has the same digit here
    for (let r = 0; r < m; r++) {
      const pos = from[r] as number
      const slot = base + (((keys[2 * pos + word] as number) >>> shift) & 255)
      const at = radixCounts[slot] as number
      radixCounts[slot] = at + 1
      to[at] = pos
    }
    const t = from
    from = to
    to = t
  }
  return from.subarray(0, m)
}
