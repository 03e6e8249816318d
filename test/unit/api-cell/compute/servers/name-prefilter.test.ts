import Database from 'better-sqlite3'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { likePrefilter, nameFilter } from '../../../../../api-cell/compute/servers/name-filter.js'

/**
 * The SQL prefilter of the `name` filter: a plain (optionally anchored) string becomes a `LIKE`
 * that keeps every name the regex matches (SQLite here, with the same ESCAPE clause the list uses);
 * any other pattern gets none, and the list reads the project's names to test them.
 */
describe('likePrefilter', () => {
  it.each([
    ['web', '%web%'],
    ['^web', 'web%'],
    ['web$', '%web'],
    ['^web-1$', 'web-1'],
    ['100%_done!', '%100!%!_done!!%'],
  ])('%s -> %s', (pattern, like) => {
    expect(likePrefilter(pattern)).toBe(like)
  })

  it.each(['', '^', '$', '^$', 'a.b', 'vm-[0-9]', 'a|b', 'x+', '(?i)web', 'a\\.b', 'a{2}'])('leaves %s to the regex alone', (pattern) => {
    expect(likePrefilter(pattern)).toBeUndefined()
  })

  it('never drops a name the regex matches (SQLite LIKE ... ESCAPE)', () => {
    const db = new Database(':memory:')
    db.exec('create table t (name text not null)')
    const chars = fc.constantFrom('a', 'B', 'b', '-', '_', '%', '!', '1', 'é', ' ')
    const word = fc.array(chars, { minLength: 0, maxLength: 6 }).map((xs) => xs.join(''))
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 12 }), word, fc.boolean(), fc.boolean(), (names, body, start, end) => {
        const pattern = `${start ? '^' : ''}${body}${end ? '$' : ''}`
        const like = likePrefilter(pattern)
        if (like === undefined) return true
        db.exec('delete from t')
        const ins = db.prepare('insert into t (name) values (?)')
        for (const n of names) ins.run(n)
        const kept = new Set((db.prepare("select name from t where name like ? escape '!'").all(like) as Array<{ name: string }>).map((r) => r.name))
        const match = nameFilter(pattern)
        return names.filter((n) => match(n)).every((n) => kept.has(n))
      }),
      { seed: 7, numRuns: 400 },
    )
    db.close()
  })
})
