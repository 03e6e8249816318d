// tsyringe (inside @peculiar/x509) needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { PATH_SEPARATOR } from '../cell-link/types.js'
import { cellIdOf, cellPathOfSan, isCellPath } from './cell-identity.js'
import type { PkiLayout } from './pki-layout.js'
import { CA_DAYS, CELL_CERT_DAYS, cellIdentityFiles, PkiError, pkiLayout } from './pki-layout.js'

/**
 * The federation CA: one self-signed ECDSA P-256 CA per federation, and one certificate per cell
 * naming its cell path (see cell-identity.ts), usable as both TLS server and client (a cell
 * serves its parent and calls its children). Generation goes through @peculiar/x509 over Node's
 * WebCrypto: no openssl binary to find or shell out to, and the same code on every machine.
 * Reading and checking certificates uses Node's own `X509Certificate`.
 */

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const
const DAY_MS = 86_400_000
/** A cell certificate closer than this to its end is reissued by the launchers at start. */
const RENEW_BEFORE_MS = 30 * DAY_MS

/** One certificate as `cellctl pki list` shows it. */
export interface CertificateInfo {
  readonly path: string
  readonly serial: string
  readonly notBefore: string
  readonly notAfter: string
  /** SHA-256 fingerprint. */
  readonly fingerprint: string
  readonly certFile: string
}

/** Writes `data` to `file` through a temporary file and a rename, so a reader never sees half of it. */
function writeAtomic(file: string, data: string, mode: number): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  chmodSync(dirname(file), 0o700)
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
  writeFileSync(tmp, data, { mode })
  chmodSync(tmp, mode)
  renameSync(tmp, file)
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair
}

async function keyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey)
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')
}

/** A positive random 128-bit serial number (hex). */
const serial = (): string => {
  const b = randomBytes(16)
  b[0] = (b[0] ?? 0) & 0x7f
  return b.toString('hex')
}

/**
 * Creates the federation CA in `dir` (0700; `ca.key` 0600) unless one is there already.
 * Returns whether it created one.
 */
export async function initCa(dir: string): Promise<{ created: boolean; fingerprint: string }> {
  const l = pkiLayout(dir)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  if (existsSync(l.caCert) || existsSync(l.caKey)) {
    if (!(existsSync(l.caCert) && existsSync(l.caKey))) throw new PkiError(`half a CA in ${dir}: ca.crt and ca.key must both be there`)
    return { created: false, fingerprint: new X509Certificate(readFileSync(l.caCert)).fingerprint256 }
  }
  const keys = await newKeys()
  const now = Date.now()
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=cells-federation CA ${randomBytes(4).toString('hex')}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  writeAtomic(l.caKey, await keyPem(keys.privateKey), 0o600)
  writeAtomic(l.caCert, ca.toString('pem'), 0o600)
  return { created: true, fingerprint: new X509Certificate(readFileSync(l.caCert)).fingerprint256 }
}

async function loadCa(l: PkiLayout): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  if (!existsSync(l.caCert) || !existsSync(l.caKey)) {
    throw new PkiError(`no federation CA in ${l.dir} (run: cellctl pki init --state-dir DIR)`)
  }
  const cert = new x509.X509Certificate(readFileSync(l.caCert, 'utf8'))
  const der = createPrivateKey(readFileSync(l.caKey)).export({ format: 'der', type: 'pkcs8' })
  const key = (await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign'])) as CryptoKey
  return { cert, key }
}

/** `true` when the CA of `dir` can sign (both its files are there). */
export function hasCa(dir: string): boolean {
  const l = pkiLayout(dir)
  return existsSync(l.caCert) && existsSync(l.caKey)
}

/**
 * Issues (or renews: the same thing) the certificate of the cell at `cellPath`: a new key pair
 * and a certificate signed by the CA, written in place (key 0600, directory 0700). Running cells
 * pick the new files up without a restart (file-certificate-provider.ts).
 */
export async function issueCellCertificate(dir: string, cellPath: string, days = CELL_CERT_DAYS): Promise<CertificateInfo> {
  if (!isCellPath(cellPath)) throw new PkiError(`not a cell path: ${cellPath} (e.g. api!region-one!dc1)`)
  if (!Number.isInteger(days) || days < 1 || days > CA_DAYS) throw new PkiError(`days must be a whole number from 1 to ${CA_DAYS}`)
  const ca = await loadCa(pkiLayout(dir))
  const keys = await newKeys()
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${cellPath.split(PATH_SEPARATOR).join('.')}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(Math.min(now + days * DAY_MS, ca.cert.notAfter.getTime())),
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: cellIdOf(cellPath) }], true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
    ],
  })
  const files = cellIdentityFiles(dir, cellPath)
  // Key first, then the certificate: a running cell reloads only a pair whose halves match.
  writeAtomic(files.key, await keyPem(keys.privateKey), 0o600)
  writeAtomic(files.cert, cert.toString('pem'), 0o600)
  return infoOf(files.cert)
}

function infoOf(certFile: string): CertificateInfo {
  const c = new X509Certificate(readFileSync(certFile))
  return {
    path: cellPathOfSan(c.subjectAltName) ?? '?',
    serial: c.serialNumber.toLowerCase(),
    notBefore: new Date(c.validFrom).toISOString(),
    notAfter: new Date(c.validTo).toISOString(),
    fingerprint: c.fingerprint256,
    certFile,
  }
}

/**
 * Why the cell certificate of `cellPath` cannot be used as it is (missing, not from this CA,
 * naming another cell, key not matching, expiring within 30 days), or undefined when it is fine.
 */
export function cellCertificateProblem(dir: string, cellPath: string, now = Date.now()): string | undefined {
  const f = cellIdentityFiles(dir, cellPath)
  if (!existsSync(f.cert) || !existsSync(f.key)) return 'missing'
  try {
    const ca = new X509Certificate(readFileSync(f.caCert))
    const c = new X509Certificate(readFileSync(f.cert))
    if (!c.verify(ca.publicKey)) return 'not signed by the federation CA'
    if (cellPathOfSan(c.subjectAltName) !== cellPath) return 'names another cell'
    if (!c.checkPrivateKey(createPrivateKey(readFileSync(f.key)))) return 'key does not match'
    if (Date.parse(c.validTo) - now < RENEW_BEFORE_MS) return 'expires within 30 days'
    return undefined
  } catch (err) {
    return `unreadable: ${err instanceof Error ? err.message : String(err)}`
  }
}

/**
 * What the launchers run at start: creates the CA when there is none, and issues the certificate
 * of every cell in `cellPaths` that has no usable one. Returns the paths it (re)issued.
 */
export async function ensureFederationPki(dir: string, cellPaths: readonly string[]): Promise<string[]> {
  await initCa(dir)
  const issued: string[] = []
  for (const path of cellPaths) {
    if (cellCertificateProblem(dir, path) === undefined) continue
    await issueCellCertificate(dir, path)
    issued.push(path)
  }
  return issued
}

/** Every cell certificate under `dir`, sorted by path. */
export function listCellCertificates(dir: string): CertificateInfo[] {
  const cells = join(dir, 'cells')
  if (!existsSync(cells)) return []
  return readdirSync(cells)
    .map((d) => join(cells, d, 'tls.crt'))
    .filter((f) => existsSync(f))
    .map(infoOf)
    .sort((a, b) => a.path.localeCompare(b.path))
}
