import type { experimental } from '@grpc/grpc-js'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import type { CellIdentityFiles } from './pki-layout.js'
import { cellPathOfSan } from './cell-identity.js'

type CertificateProvider = experimental.CertificateProvider
type CaListener = experimental.CaCertificateUpdateListener
type IdentityListener = experimental.IdentityCertificateUpdateListener

/** A cell's identity files could not be loaded at start. */
export class CellIdentityError extends Error {
  override readonly name = 'CellIdentityError'
}

interface Loaded {
  readonly ca: Buffer
  readonly cert: Buffer
  readonly key: Buffer
}

/**
 * A cell's certificate, key and trusted CA, read from its identity files and watched for changes,
 * as a grpc-js certificate provider: the cell's gRPC server and every channel to its children use
 * it, so a renewed certificate (`cellctl pki renew PATH`) is served and presented on the next
 * connection without a restart.
 *
 * Unlike grpc-js's own FileWatcherCertificateProvider, this one checks that the files are there
 * at start (a clear error rather than a server that silently drops every connection), compares
 * file stamps before reading, and only hands on a pair whose key matches its certificate and that
 * names this cell: a renewal caught half written is picked up on the next poll instead.
 */
export class FileCertificateProvider implements CertificateProvider {
  readonly cellPath: string
  readonly #files: CellIdentityFiles
  readonly #refreshMs: number
  readonly #caListeners = new Set<CaListener>()
  readonly #identityListeners = new Set<IdentityListener>()
  #current: Loaded
  #stamp: string
  #timer: NodeJS.Timeout | undefined

  constructor(args: { readonly cellPath: string; readonly files: CellIdentityFiles; readonly refreshMs: number }) {
    this.cellPath = args.cellPath
    this.#files = args.files
    this.#refreshMs = args.refreshMs
    for (const f of [args.files.caCert, args.files.cert, args.files.key]) {
      if (!existsSync(f)) {
        throw new CellIdentityError(`cell ${args.cellPath}: missing ${f} (issue it with: cellctl pki issue ${args.cellPath} --state-dir DIR)`)
      }
    }
    this.#stamp = this.#stampNow()
    const loaded = this.#load()
    if (typeof loaded === 'string') throw new CellIdentityError(`cell ${args.cellPath}: ${loaded}`)
    this.#current = loaded
  }

  /** SHA-256 fingerprint of the certificate currently handed out (tests and logs). */
  get fingerprint(): string {
    return new X509Certificate(this.#current.cert).fingerprint256
  }

  #stampNow(): string {
    return [this.#files.caCert, this.#files.cert, this.#files.key]
      .map((f) => {
        try {
          const s = statSync(f)
          return `${s.ino}:${s.size}:${s.mtimeMs}`
        } catch {
          return 'gone'
        }
      })
      .join('|')
  }

  /** Reads and checks the three files; a string says why they cannot be used. */
  #load(): Loaded | string {
    try {
      const ca = readFileSync(this.#files.caCert)
      const cert = readFileSync(this.#files.cert)
      const key = readFileSync(this.#files.key)
      const c = new X509Certificate(cert)
      if (!c.checkPrivateKey(createPrivateKey(key))) return 'the key does not match the certificate'
      if (!c.verify(new X509Certificate(ca).publicKey)) return 'the certificate is not signed by the federation CA'
      if (cellPathOfSan(c.subjectAltName) !== this.cellPath) return `the certificate names ${cellPathOfSan(c.subjectAltName) ?? 'no cell'}, not ${this.cellPath}`
      return { ca, cert, key }
    } catch (err) {
      return err instanceof Error ? err.message : String(err)
    }
  }

  #poll(): void {
    const stamp = this.#stampNow()
    if (stamp === this.#stamp) return
    const loaded = this.#load()
    // Half a renewal (key written, certificate not yet): keep the old pair, look again next time.
    if (typeof loaded === 'string') return
    this.#stamp = stamp
    const caChanged = !loaded.ca.equals(this.#current.ca)
    const idChanged = !loaded.cert.equals(this.#current.cert) || !loaded.key.equals(this.#current.key)
    this.#current = loaded
    if (caChanged) for (const l of this.#caListeners) l({ caCertificate: loaded.ca })
    if (idChanged) for (const l of this.#identityListeners) l({ certificate: loaded.cert, privateKey: loaded.key })
  }

  #watch(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.#poll(), this.#refreshMs)
    this.#timer.unref()
  }

  #unwatch(): void {
    if (this.#caListeners.size > 0 || this.#identityListeners.size > 0 || this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  addCaCertificateListener(listener: CaListener): void {
    // Files may have changed while nobody listened (no timer ran): look before handing them out.
    if (this.#timer === undefined) this.#poll()
    this.#caListeners.add(listener)
    this.#watch()
    const ca = this.#current.ca
    process.nextTick(() => listener({ caCertificate: ca }))
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener)
    this.#unwatch()
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    if (this.#timer === undefined) this.#poll()
    this.#identityListeners.add(listener)
    this.#watch()
    const { cert, key } = this.#current
    process.nextTick(() => listener({ certificate: cert, privateKey: key }))
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener)
    this.#unwatch()
  }
}
