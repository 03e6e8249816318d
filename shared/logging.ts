import { pino } from 'pino'
import type { Logger as PinoLogger } from 'pino'

/** JSON-lines logger (pino). Every line about a request carries its `requestId`. */
export type Logger = PinoLogger

/**
 * A logger for one service. Level from `LOG_LEVEL` (default `info`; tests default to `silent`
 * unless LOG_LEVEL is set). Secrets are redacted wherever they appear under these keys.
 */
export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  const level = process.env['LOG_LEVEL'] ?? (process.env['VITEST'] === undefined ? 'info' : 'silent')
  return pino({
    name,
    level,
    base: { pid: process.pid, ...bindings },
    redact: ['password', '*.password', 'adminPass', '*.adminPass', 'token', '*.token', 'headers["x-auth-token"]'],
  })
}
