import { connect } from 'node:net'

/** A response read off a raw socket: status, lower-cased headers, body text. */
export interface RawReply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * Sends `request` bytes as they are (no client-side validation, unlike fetch) to `url`'s host and
 * port, and reads until the server closes the connection. For malformed HTTP only Node's parser sees.
 */
export function rawRequest(url: string, request: string | Buffer): Promise<RawReply> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname)
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const [head = '', ...rest] = text.split('\r\n\r\n')
      const [statusLine = '', ...headerLines] = head.split('\r\n')
      const headers: Record<string, string> = {}
      for (const l of headerLines) {
        const at = l.indexOf(':')
        if (at > 0) headers[l.slice(0, at).trim().toLowerCase()] = l.slice(at + 1).trim()
      }
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest.join('\r\n\r\n') })
    })
    socket.end(request)
  })
}
