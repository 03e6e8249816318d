import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'

/**
 * Renders an API's fault body for `status` (the API's own shape: Nova's, Keystone's, Glance's).
 * `requestLine` is the start of the rejected request as received (`GET /path HTTP/1.1`, possibly
 * cut short or empty), for a listener that serves more than one API under different prefixes.
 */
export type FaultRenderer = (status: number, message: string, requestLine: string) => unknown

const REASONS: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large' }

/** The status and message for one of Node's HTTP parser errors (`err.code`). */
export function clientErrorStatus(code: string | undefined): { status: number; message: string } {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, message: 'The request headers are too large.' }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, message: 'The request took too long to arrive.' }
  if (code === 'HPE_INVALID_CHUNK_SIZE' || code === 'HPE_INVALID_TRANSFER_ENCODING' || code === 'HPE_UNEXPECTED_CONTENT_LENGTH') {
    return { status: 400, message: 'The request body framing (chunked encoding or Content-Length) is malformed.' }
  }
  return { status: 400, message: 'The request is not valid HTTP.' }
}

/**
 * Answers what Node's HTTP parser rejects before express sees it (malformed request line, header
 * overflow, bad chunked encoding) with a JSON fault body from `render`, instead of Node's bare
 * `400`/`431` without a body. A socket already sending a response is only closed: writing a second
 * status line into it would corrupt the first.
 */
export function answerClientErrors(server: Server, render: FaultRenderer): void {
  server.on('clientError', (err: Error & { code?: string; rawPacket?: unknown }, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy()
      return
    }
    const { status, message } = clientErrorStatus(err.code)
    const body = JSON.stringify(render(status, message, requestLineOf(err.rawPacket)))
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\n` +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    )
  })
}

/** The first line of the bytes Node's parser choked on (at most 512 bytes of it), or ''. */
function requestLineOf(raw: unknown): string {
  if (!Buffer.isBuffer(raw)) return ''
  const head = raw.subarray(0, 512).toString('latin1')
  const end = head.indexOf('\r\n')
  return end < 0 ? head : head.slice(0, end)
}
