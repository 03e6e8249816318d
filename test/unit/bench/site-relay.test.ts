import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo, Server } from 'node:net'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Relay } from '../../../bench/site-relay.js'
import { startRelay } from '../../../bench/site-relay.js'

/** Sends `chunks` one by one through `port`, half-closes, and resolves with all the bytes echoed back. */
function exchange(port: number, chunks: readonly Buffer[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = []
    const s = connect(port, '127.0.0.1', () => {
      for (const c of chunks) s.write(c)
      s.end()
    })
    s.on('data', (b: Buffer) => got.push(b))
    s.on('end', () => resolve(Buffer.concat(got)))
    s.on('error', reject)
  })
}

describe('site relay (the separate-sites rehearsal): TCP to a Unix socket to TCP, with and without delay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'site-relay-'))
  let echo: Server
  let relays: Relay[] = []
  const ports = { plain: 0, delayed: 0 }

  beforeAll(async () => {
    echo = createServer({ allowHalfOpen: true }, (s) => {
      s.on('data', (b) => s.write(b))
      s.on('end', () => s.end())
    })
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r))
    const target = { host: '127.0.0.1', port: (echo.address() as AddressInfo).port }
    // Two hops as in the rehearsal: TCP -> Unix socket (the namespace side) -> TCP (the servers' side).
    relays.push(await startRelay([{ listen: { path: join(dir, 'echo.sock') }, target }]))
    const free = async (): Promise<number> => {
      const s = createServer()
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
      const p = (s.address() as AddressInfo).port
      await new Promise<void>((r) => s.close(() => r()))
      return p
    }
    ports.plain = await free()
    ports.delayed = await free()
    relays.push(
      await startRelay([
        { listen: { host: '127.0.0.1', port: ports.plain }, target: { path: join(dir, 'echo.sock') } },
        { listen: { host: '127.0.0.1', port: ports.delayed }, target: { path: join(dir, 'echo.sock') }, delayMs: 5 },
      ]),
    )
  })

  afterAll(async () => {
    for (const r of relays) await r.close()
    relays = []
    await new Promise<void>((r) => echo.close(() => r()))
    rmSync(dir, { recursive: true, force: true })
  })

  const chunks = Array.from({ length: 200 }, (_, i) => Buffer.from(`chunk ${i};`))

  it.each([
    ['without delay', 'plain'],
    ['with a delay each way', 'delayed'],
  ] as const)('relays every byte in order and passes the end on, %s', async (_label, which) => {
    const back = await exchange(ports[which], chunks)
    expect(back.toString()).toBe(Buffer.concat(chunks).toString())
  })
})
