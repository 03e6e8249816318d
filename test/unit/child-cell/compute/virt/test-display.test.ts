import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestDisplay } from '../../../../../child-cell/compute/virt/test-display.js'
import { startTestDisplay, TEST_DISPLAY_NAME } from '../../../../../child-cell/compute/virt/test-display.js'

/** Reads exactly `n` more bytes from a socket. */
function reader(s: Socket): (n: number) => Promise<Buffer> {
  let buf = Buffer.alloc(0)
  const waiters: Array<() => void> = []
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d])
    for (const w of waiters.splice(0)) w()
  })
  return async (n) => {
    while (buf.length < n) await new Promise<void>((r) => waiters.push(r))
    const out = buf.subarray(0, n)
    buf = buf.subarray(n)
    return out
  }
}

describe('the stand-in VNC display of libvirt test-driver hosts', () => {
  let display: TestDisplay
  beforeAll(async () => {
    display = await startTestDisplay()
  })
  afterAll(async () => {
    await display.close()
  })

  const open = async (): Promise<{ s: Socket; read: (n: number) => Promise<Buffer> }> => {
    const s = connect({ host: display.host, port: display.port })
    const read = reader(s)
    await new Promise((r) => s.once('connect', r))
    return { s, read }
  }

  it('RFB 3.8: security type None, a successful result, then a ServerInit naming the desktop', async () => {
    const { s, read } = await open()
    expect((await read(12)).toString()).toBe('RFB 003.008\n')
    s.write('RFB 003.008\n')
    expect([...(await read(2))]).toEqual([1, 1])
    s.write(Buffer.from([1]))
    expect([...(await read(4))]).toEqual([0, 0, 0, 0])
    s.write(Buffer.from([1]))
    const head = await read(24)
    expect([head.readUInt16BE(0), head.readUInt16BE(2), head[4]]).toEqual([1, 1, 32])
    const name = await read(head.readUInt32BE(20))
    expect(name.toString()).toBe(TEST_DISPLAY_NAME)
    s.destroy()
  })

  it('RFB 3.3: the server names security type None itself', async () => {
    const { s, read } = await open()
    await read(12)
    s.write('RFB 003.003\n')
    expect([...(await read(4))]).toEqual([0, 0, 0, 1])
    s.write(Buffer.from([0]))
    expect((await read(24)).readUInt32BE(20)).toBe(TEST_DISPLAY_NAME.length)
    s.destroy()
  })

  it('a client asking for another security type is told it failed and is closed', async () => {
    const { s, read } = await open()
    await read(12)
    s.write('RFB 003.008\n')
    await read(2)
    s.write(Buffer.from([2]))
    expect([...(await read(4))]).toEqual([0, 0, 0, 1])
    await new Promise((r) => s.once('close', r))
  })
})
