import { describe, expect, it } from 'vitest'
import { uptimeLine } from '../../../../child-cell/compute/manager.js'

describe('uptimeLine (what `uptime` prints, as Nova reports a hypervisor uptime)', () => {
  const at = new Date(2026, 0, 2, 8, 5, 9)
  it.each([
    [59, ' 08:05:09 up 0:00,  0 users,  load average: 0.10, 0.20, 0.30'],
    [3 * 3600 + 7 * 60, ' 08:05:09 up 3:07,  0 users,  load average: 0.10, 0.20, 0.30'],
    [86400 + 60, ' 08:05:09 up 1 day, 0:01,  0 users,  load average: 0.10, 0.20, 0.30'],
    [93 * 86400 + 18 * 3600 + 25 * 60, ' 08:05:09 up 93 days, 18:25,  0 users,  load average: 0.10, 0.20, 0.30'],
  ])('%d s of uptime', (seconds, line) => {
    expect(uptimeLine(at, seconds, [0.1, 0.2, 0.3])).toBe(line)
  })
})
