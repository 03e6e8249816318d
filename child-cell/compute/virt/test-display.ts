import type { Server, Socket } from 'node:net'
import { createServer } from 'node:net'

/** The desktop name a test display announces. */
export const TEST_DISPLAY_NAME = 'federation test guest'

/** A running {@link startTestDisplay}. */
export interface TestDisplay {
  readonly host: string
  readonly port: number
  close(): Promise<void>
}

/** ServerInit: a 1x1 desktop, 32 bits per pixel true colour, then the name. */
function serverInit(): Buffer {
  const name = Buffer.from(TEST_DISPLAY_NAME)
  const b = Buffer.alloc(24 + name.length)
  b.writeUInt16BE(1, 0) // width
  b.writeUInt16BE(1, 2) // height
  // PIXEL_FORMAT: bpp 32, depth 24, big-endian 0, true colour 1, max 255/255/255, shifts 16/8/0.
  Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]).copy(b, 4)
  b.writeUInt32BE(name.length, 20)
  name.copy(b, 24)
  return b
}

/**
 * Serves one RFB connection: version (3.8, or 3.3 when the client asks for it), security type
 * None, then ServerInit; whatever the client sends next is read and dropped (no framebuffer
 * updates: the desktop never changes).
 */
function serve(socket: Socket): void {
  let stage: 'version' | 'security' | 'init' | 'running' = 'version'
  let pending = Buffer.alloc(0)
  socket.setNoDelay(true)
  socket.on('error', () => socket.destroy())
  socket.write('RFB 003.008\n')
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    for (;;) {
      if (stage === 'version') {
        if (pending.length < 12) return
        const version = pending.subarray(0, 12).toString('latin1')
        pending = pending.subarray(12)
        if (version === 'RFB 003.003\n') {
          // 3.3: the server names the security type (1 = None), no result follows.
          socket.write(Buffer.from([0, 0, 0, 1]))
          stage = 'init'
        } else {
          socket.write(Buffer.from([1, 1]))
          stage = 'security'
        }
      } else if (stage === 'security') {
        if (pending.length < 1) return
        const chosen = pending[0]
        pending = pending.subarray(1)
        if (chosen !== 1) {
          socket.end(Buffer.from([0, 0, 0, 1]))
          return
        }
        socket.write(Buffer.from([0, 0, 0, 0]))
        stage = 'init'
      } else if (stage === 'init') {
        if (pending.length < 1) return
        pending = pending.subarray(1)
        socket.write(serverInit())
        stage = 'running'
      } else {
        pending = Buffer.alloc(0)
        return
      }
    }
  })
}

/**
 * The display of libvirt test-driver guests, which run no emulator and so have none: a minimal
 * VNC (RFB) server with no authentication and a blank 1x1 desktop, one per simulated host, whose
 * port the guests' `<graphics type='vnc'>` declare. It lets the console path (API, token, proxy,
 * TCP) be exercised end to end without qemu, as the test driver's fixed console log does for
 * console output.
 */
export async function startTestDisplay(host = '127.0.0.1'): Promise<TestDisplay> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
    serve(s)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve())
  })
  server.unref()
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
