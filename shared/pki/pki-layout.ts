import { join } from 'node:path'
import { PATH_SEPARATOR } from '../cell-link/types.js'

/**
 * Where the federation PKI lives under the state directory (a 0700 directory; keys 0600):
 *
 * ```
 * STATE_DIR/pki/ca.crt                    the federation CA certificate (every cell trusts it)
 * STATE_DIR/pki/ca.key                    the CA's private key (only cellctl and the launchers read it)
 * STATE_DIR/pki/cells/api.region-one/tls.crt   a cell's certificate (URI SAN = its cell path)
 * STATE_DIR/pki/cells/api.region-one/tls.key   its private key
 * ```
 */
export interface PkiLayout {
  readonly dir: string
  readonly caCert: string
  readonly caKey: string
}

/** The files of one cell's identity. */
export interface CellIdentityFiles {
  readonly dir: string
  readonly cert: string
  readonly key: string
  /** The CA certificate the cell trusts its peers by. */
  readonly caCert: string
}

/** The PKI layout of the directory `dir` (usually `STATE_DIR/pki`). */
export function pkiLayout(dir: string): PkiLayout {
  return { dir, caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key') }
}

/** The files of the cell at `cellPath` (`!` becomes `.` in the directory name). */
export function cellIdentityFiles(dir: string, cellPath: string): CellIdentityFiles {
  const cellDir = join(dir, 'cells', cellPath.split(PATH_SEPARATOR).join('.'))
  return { dir: cellDir, cert: join(cellDir, 'tls.crt'), key: join(cellDir, 'tls.key'), caCert: pkiLayout(dir).caCert }
}

/** Validity of the CA certificate, in days. */
export const CA_DAYS = 3650
/** Default validity of a cell certificate, in days; renew with `cellctl pki renew PATH`. */
export const CELL_CERT_DAYS = 365

/** Failure of a PKI operation an operator can fix (missing CA, malformed path). */
export class PkiError extends Error {
  override readonly name = 'PkiError'
}
