import type { PeerCertificate } from 'node:tls'
import { PATH_SEPARATOR } from '../cell-link/types.js'

/**
 * How a certificate names a cell: one URI subject alternative name in the SPIFFE form
 * `spiffe://cells-federation/cell/api/region-one/dc1` for the cell path `api!region-one!dc1`.
 * Authorisation reads only this name, never the subject CN (which is for people), so a cell's
 * identity cannot be confused with a host name.
 */
export const CELL_ID_PREFIX = 'spiffe://cells-federation/cell/'

const SEGMENT = /^[a-z0-9][a-z0-9-]{0,62}$/

/** `true` for a well-formed cell path (`api`, `api!region-one!dc1`): what a certificate may name. */
export function isCellPath(path: string): boolean {
  const segs = path.split(PATH_SEPARATOR)
  return segs[0] === 'api' && segs.every((s) => SEGMENT.test(s))
}

/** The URI SAN of the cell at `path`. Throws on a malformed path (certificates name real cells only). */
export function cellIdOf(path: string): string {
  if (!isCellPath(path)) throw new Error(`not a cell path: ${path}`)
  return `${CELL_ID_PREFIX}${path.split(PATH_SEPARATOR).join('/')}`
}

/** The cell path a URI SAN names, or undefined when it is not a well-formed cell identity. */
export function cellPathOfId(uri: string): string | undefined {
  if (!uri.startsWith(CELL_ID_PREFIX)) return undefined
  const path = uri.slice(CELL_ID_PREFIX.length).split('/').join(PATH_SEPARATOR)
  return isCellPath(path) ? path : undefined
}

/**
 * The cell path named by a certificate's subjectAltName text (Node's `subjectaltname`, e.g.
 * `URI:spiffe://..., DNS:x`), or undefined. Exactly one cell identity must be present: a
 * certificate naming two cells names none.
 */
export function cellPathOfSan(subjectAltName: string | undefined): string | undefined {
  if (subjectAltName === undefined) return undefined
  // Node quotes entries holding separators; ours never need it, so a quoted one is not ours.
  const found = subjectAltName
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => cellPathOfId(entry.slice(4)))
    .filter((p): p is string => p !== undefined)
  return found.length === 1 ? found[0] : undefined
}

/** The cell path of a TLS peer (an authenticated certificate), or undefined. */
export function cellPathOfPeer(cert: PeerCertificate | undefined): string | undefined {
  return cellPathOfSan(cert?.subjectaltname)
}

/** The parent of a cell path (`api!region-one` for `api!region-one!dc1`); undefined for `api`. */
export function parentPathOf(path: string): string | undefined {
  const i = path.lastIndexOf(PATH_SEPARATOR)
  return i < 0 ? undefined : path.slice(0, i)
}
