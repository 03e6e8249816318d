import { resolve } from 'node:path'
import { isCellPath } from '../../shared/pki/cell-identity.js'
import type * as FederationCa from '../../shared/pki/federation-ca.js'
import type { CertificateInfo } from '../../shared/pki/federation-ca.js'
import { CELL_CERT_DAYS, PkiError } from '../../shared/pki/pki-layout.js'
import { OperationError } from './admin-client.js'
import type { CommandContext, CommandSpec, OptionSpec } from './command.js'
import { str } from './command.js'
import type { CommandOutput, TableSpec } from './output.js'
import { UsageError } from './usage-error.js'

/** The CA code (and its X.509 library) loads only for the commands that use it: cellctl starts faster. */
const ca = (): Promise<typeof FederationCa> => import('../../shared/pki/federation-ca.js')

/** `--state-dir`: the PKI lives in its `pki/` directory, as the services read it. */
export const PKI_DIR_OPTION: Readonly<Record<string, OptionSpec>> = {
  'state-dir': { type: 'string', value: 'DIR', help: 'state directory whose pki/ holds the federation CA (default .federation)' },
}

/** The PKI directory of a command's `--state-dir`. */
export const pkiDirOf = (c: CommandContext): string => resolve(str(c, 'state-dir') ?? '.federation', 'pki')

const DAYS_OPTION: Readonly<Record<string, OptionSpec>> = {
  days: { type: 'string', value: 'N', help: `validity in days (default ${CELL_CERT_DAYS})` },
}

function daysOf(c: CommandContext, command: string): number {
  const v = str(c, 'days')
  if (v === undefined) return CELL_CERT_DAYS
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1) throw new UsageError(`--days must be a whole number of days, got ${v}`, command)
  return Number(v)
}

function cellPathArg(c: CommandContext, command: string): string {
  const path = c.args[0] ?? ''
  if (!isCellPath(path)) throw new UsageError(`${path} is not a cell path (e.g. api!region-one!dc1)`, command)
  return path
}

/** PKI failures an operator fixes (no CA yet, bad files) are operation errors: exit 1, one line. */
async function pki<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof PkiError) throw new OperationError(err.message)
    throw new OperationError(`PKI: ${err instanceof Error ? err.message : String(err)}`)
  }
}

const certTable = (certs: readonly CertificateInfo[]): TableSpec => ({
  head: ['CELL', 'SERIAL', 'NOT AFTER', 'SHA-256 FINGERPRINT'],
  rows: certs.map((i) => [i.path, i.serial, i.notAfter, i.fingerprint]),
  empty: 'No cell certificates.',
})

const issued = (verb: string, info: CertificateInfo): CommandOutput => ({
  data: { certificate: info },
  lines: [`${verb} the certificate of ${info.path} (serial ${info.serial}, valid until ${info.notAfter}): ${info.certFile}`],
})

/**
 * `cellctl cell create` issues the new cell's certificate with these when the CA is at hand;
 * returns a line for the output, or a warning when the CA is elsewhere.
 */
export async function issueForNewCell(c: CommandContext, path: string): Promise<{ line?: string; warning?: string }> {
  const dir = pkiDirOf(c)
  const { cellCertificateProblem, hasCa, issueCellCertificate } = await ca()
  if (!hasCa(dir)) return { warning: `no federation CA in ${dir}: issue the certificate of ${path} where the CA is (cellctl pki issue ${path} --state-dir DIR)` }
  if (cellCertificateProblem(dir, path) === undefined) return { line: `The certificate of ${path} is in place.` }
  const info = await pki(() => issueCellCertificate(dir, path))
  return { line: `Issued the certificate of ${path}: ${info.certFile}` }
}

/** `cellctl pki ...`: the federation CA and the cell certificates (mutual TLS between cells). */
export const PKI_COMMANDS: readonly CommandSpec[] = [
  {
    name: ['pki', 'init'],
    summary: 'create the federation CA (once per federation)',
    args: [],
    options: PKI_DIR_OPTION,
    details: 'Creates STATE_DIR/pki (0700) with ca.crt and ca.key (0600). Keeps an existing CA: its certificates stay valid.',
    async run(c) {
      const dir = pkiDirOf(c)
      const { initCa } = await ca()
      const r = await pki(() => initCa(dir))
      return {
        data: { pki_dir: dir, created: r.created, fingerprint: r.fingerprint },
        lines: [`${r.created ? 'Created the' : 'Kept the existing'} federation CA in ${dir} (SHA-256 ${r.fingerprint}).`],
      }
    },
  },
  {
    name: ['pki', 'issue'],
    summary: "issue a cell's certificate when it has no usable one",
    args: ['PATH'],
    options: { ...DAYS_OPTION, ...PKI_DIR_OPTION },
    details: 'For a cell created elsewhere than where the CA lives. A certificate that is usable (this CA, this cell, not expiring) is kept.',
    async run(c) {
      const path = cellPathArg(c, 'pki issue')
      const days = daysOf(c, 'pki issue')
      const dir = pkiDirOf(c)
      const { cellCertificateProblem, hasCa, issueCellCertificate, listCellCertificates } = await ca()
      const problem = await pki(() => {
        if (!hasCa(dir)) throw new PkiError(`no federation CA in ${dir} (run: cellctl pki init --state-dir DIR)`)
        return cellCertificateProblem(dir, path)
      })
      if (problem === undefined) {
        const info = listCellCertificates(dir).find((i) => i.path === path)
        return { data: { certificate: info, issued: false }, lines: [`The certificate of ${path} is in place; nothing issued (use pki renew to replace it).`] }
      }
      return issued('Issued', await pki(() => issueCellCertificate(dir, path, days)))
    },
  },
  {
    name: ['pki', 'renew'],
    summary: "replace a cell's key and certificate; running cells switch without a restart",
    args: ['PATH'],
    options: { ...DAYS_OPTION, ...PKI_DIR_OPTION },
    details:
      'Writes a new key and certificate in place. Running processes notice within FEDERATION_CERT_REFRESH_MS (default 5 s) and use them for new connections; open links keep working.',
    async run(c) {
      const path = cellPathArg(c, 'pki renew')
      const days = daysOf(c, 'pki renew')
      const dir = pkiDirOf(c)
      const { issueCellCertificate, listCellCertificates } = await ca()
      if (!listCellCertificates(dir).some((i) => i.path === path)) throw new OperationError(`${path} has no certificate in ${dir} to renew (use pki issue)`, 404)
      return issued('Renewed', await pki(() => issueCellCertificate(dir, path, days)))
    },
  },
  {
    name: ['pki', 'list'],
    summary: 'list the cell certificates with their expiry',
    args: [],
    options: PKI_DIR_OPTION,
    async run(c) {
      const dir = pkiDirOf(c)
      const { listCellCertificates } = await ca()
      const certs = await pki(() => listCellCertificates(dir))
      return { data: { pki_dir: dir, certificates: certs }, tables: [certTable(certs)] }
    },
  },
]
