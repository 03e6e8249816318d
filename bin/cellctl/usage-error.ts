import { AppError } from '../../shared/errors.js'

/**
 * The command line itself is wrong (unknown command or flag, missing argument): `cellctl` exits
 * with 2 for these, and with 1 for every other failure.
 */
export class UsageError extends AppError {
  /** The command whose `--help` to point to. */
  readonly command: string

  constructor(message: string, command = '') {
    super({ code: 'usage', status: 400, message })
    this.command = command
  }
}
