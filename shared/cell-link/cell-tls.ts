import * as grpc from '@grpc/grpc-js'
import type { PeerCertificate } from 'node:tls'
import { cellPathOfPeer } from '../pki/cell-identity.js'
import { FileCertificateProvider } from '../pki/file-certificate-provider.js'
import { cellIdentityFiles } from '../pki/pki-layout.js'

/** Where a process finds its cell's identity (from shared/config: `STATE_DIR/pki`). */
export interface PkiSettings {
  /** The PKI directory (`STATE_DIR/pki`). */
  readonly dir: string
  /** How often certificate files are checked for a renewal, in ms. */
  readonly refreshMs: number
}

/**
 * One cell's TLS identity on the cell links: mutual TLS with certificates of the federation CA
 * only. The server asks every client for a certificate and refuses a handshake without a valid
 * one; a client accepts a server only if its certificate names the very cell it meant to reach
 * (its URI SAN, not the host name: cells are dialled by address). There are no insecure links.
 */
export class CellTls {
  /** The cell path this process speaks as. */
  readonly cellPath: string
  readonly #provider: FileCertificateProvider
  #server: grpc.ServerCredentials | undefined

  constructor(cellPath: string, provider: FileCertificateProvider) {
    this.cellPath = cellPath
    this.#provider = provider
  }

  /** Loads the identity of `cellPath` from `pki` (throws a clear error when its files are missing). */
  static open(pki: PkiSettings, cellPath: string): CellTls {
    const provider = new FileCertificateProvider({ cellPath, files: cellIdentityFiles(pki.dir, cellPath), refreshMs: pki.refreshMs })
    return new CellTls(cellPath, provider)
  }

  /** SHA-256 fingerprint of the certificate in use now. */
  get fingerprint(): string {
    return this.#provider.fingerprint
  }

  /** Server credentials: client certificate required, checked against the federation CA. */
  serverCredentials(): grpc.ServerCredentials {
    this.#server ??= grpc.experimental.createCertificateProviderServerCredentials(this.#provider, this.#provider, true)
    return this.#server
  }

  /** Channel credentials to the cell at `peerPath`: this cell's certificate, that cell's name checked. */
  channelCredentials(peerPath: string): grpc.ChannelCredentials {
    return grpc.experimental.createCertificateProviderChannelCredentials(this.#provider, this.#provider, {
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const named = cellPathOfPeer(cert)
        return named === peerPath ? undefined : new Error(`expected the certificate of cell ${peerPath}, got ${named ?? 'no cell identity'}`)
      },
    })
  }
}
