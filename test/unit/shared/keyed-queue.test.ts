import { describe, expect, it } from 'vitest'
import { KeyedQueue } from '../../../shared/keyed-queue.js'

const tick = () => new Promise((r) => setTimeout(r, 1))

describe('KeyedQueue', () => {
  it('runs tasks of one key one at a time, in order, and other keys alongside', async () => {
    const q = new KeyedQueue()
    const log: string[] = []
    const task = (name: string) => async () => {
      log.push(`${name}:start`)
      await tick()
      log.push(`${name}:end`)
      return name
    }
    const results = await Promise.all([q.run('g', task('a1')), q.run('g', task('a2')), q.run('h', task('b1'))])
    expect(results).toEqual(['a1', 'a2', 'b1'])
    expect(log.indexOf('a1:end')).toBeLessThan(log.indexOf('a2:start'))
    expect(log.indexOf('b1:start')).toBeLessThan(log.indexOf('a1:end'))
    expect(q.busy('g')).toBe(false)
  })

  it('goes on after a task fails, and hands the failure to its caller only', async () => {
    const q = new KeyedQueue()
    const failed = q.run('g', () => Promise.reject(new Error('boom')))
    const next = q.run('g', () => Promise.resolve(42))
    await expect(failed).rejects.toThrow('boom')
    expect(await next).toBe(42)
  })
})
