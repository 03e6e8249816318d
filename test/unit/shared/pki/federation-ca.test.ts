import { X509Certificate } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cellCertificateProblem, ensureFederationPki, initCa, issueCellCertificate, listCellCertificates } from '../../../../shared/pki/federation-ca.js'
import { CellIdentityError, FileCertificateProvider } from '../../../../shared/pki/file-certificate-provider.js'
import { cellIdentityFiles, pkiLayout } from '../../../../shared/pki/pki-layout.js'
import { waitFor } from '../../../helpers/os-client.js'

describe('federation CA', () => {
  const root = mkdtempSync(join(tmpdir(), 'pki-unit-'))
  const dir = join(root, 'pki')
  const other = join(root, 'other')

  beforeAll(async () => {
    await initCa(dir)
    await initCa(other)
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('keeps an existing CA, and refuses half of one', async () => {
    const before = readFileSync(pkiLayout(dir).caCert, 'utf8')
    expect((await initCa(dir)).created).toBe(false)
    expect(readFileSync(pkiLayout(dir).caCert, 'utf8')).toBe(before)
    const half = join(root, 'half')
    await initCa(half)
    rmSync(pkiLayout(half).caKey)
    await expect(initCa(half)).rejects.toThrow(/half a CA/)
  })

  it('issues a CA-signed certificate for both TLS roles, naming the cell, with a private key', async () => {
    const info = await issueCellCertificate(dir, 'api!r1!dc1', 30)
    const f = cellIdentityFiles(dir, 'api!r1!dc1')
    const cert = new X509Certificate(readFileSync(f.cert))
    expect(cert.verify(new X509Certificate(readFileSync(pkiLayout(dir).caCert)).publicKey)).toBe(true)
    expect(cert.ca).toBe(false)
    expect(cert.subjectAltName).toBe('URI:spiffe://cells-federation/cell/api/r1/dc1')
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']))
    expect(Date.parse(cert.validTo) - Date.now()).toBeLessThanOrEqual(30 * 86_400_000)
    expect(info).toMatchObject({ path: 'api!r1!dc1', fingerprint: cert.fingerprint256 })
    expect(statSync(f.key).mode & 0o777).toBe(0o600)
    expect(statSync(f.dir).mode & 0o777).toBe(0o700)
    expect(listCellCertificates(dir).map((i) => i.path)).toContain('api!r1!dc1')
  })

  it.each(['', 'dc1', 'api!DC1', 'api!r1!'])('refuses to issue for the malformed path %j', async (path) => {
    await expect(issueCellCertificate(dir, path)).rejects.toThrow(/not a cell path/)
  })

  it('tells why a certificate cannot be used', async () => {
    await issueCellCertificate(dir, 'api!a')
    await issueCellCertificate(dir, 'api!b')
    await issueCellCertificate(other, 'api!c')
    expect(cellCertificateProblem(dir, 'api!a')).toBeUndefined()
    expect(cellCertificateProblem(dir, 'api!missing')).toBe('missing')
    expect(cellCertificateProblem(dir, 'api!a', Date.now() + 400 * 86_400_000)).toBe('expires within 30 days')
    const c = cellIdentityFiles(dir, 'api!c')
    await issueCellCertificate(dir, 'api!c')
    copyFileSync(cellIdentityFiles(other, 'api!c').cert, c.cert)
    expect(cellCertificateProblem(dir, 'api!c')).toBe('not signed by the federation CA')
    copyFileSync(cellIdentityFiles(dir, 'api!b').cert, c.cert)
    expect(cellCertificateProblem(dir, 'api!c')).toBe('names another cell')
    await issueCellCertificate(dir, 'api!c')
    copyFileSync(cellIdentityFiles(dir, 'api!a').key, c.key)
    expect(cellCertificateProblem(dir, 'api!c')).toBe('key does not match')
  })

  it('issues at start only what is missing or unusable', async () => {
    const fresh = join(root, 'fresh')
    expect(await ensureFederationPki(fresh, ['api', 'api!r1'])).toEqual(['api', 'api!r1'])
    expect(await ensureFederationPki(fresh, ['api', 'api!r1', 'api!r2'])).toEqual(['api!r2'])
    writeFileSync(cellIdentityFiles(fresh, 'api!r1').cert, 'garbage')
    expect(await ensureFederationPki(fresh, ['api', 'api!r1', 'api!r2'])).toEqual(['api!r1'])
  })
})

describe('file certificate provider', () => {
  const root = mkdtempSync(join(tmpdir(), 'pki-provider-'))
  const dir = join(root, 'pki')
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('refuses to start without its files, or with a certificate of another cell', async () => {
    await initCa(dir)
    expect(() => new FileCertificateProvider({ cellPath: 'api!x', files: cellIdentityFiles(dir, 'api!x'), refreshMs: 50 })).toThrow(CellIdentityError)
    await issueCellCertificate(dir, 'api!y')
    expect(() => new FileCertificateProvider({ cellPath: 'api!x', files: cellIdentityFiles(dir, 'api!y'), refreshMs: 50 })).toThrow(/names api!y, not api!x/)
  })

  it('hands out a renewed pair without a restart, and never a half-written one', async () => {
    const files = cellIdentityFiles(dir, 'api!r')
    await issueCellCertificate(dir, 'api!r')
    const provider = new FileCertificateProvider({ cellPath: 'api!r', files, refreshMs: 50 })
    const seen: string[] = []
    const listener = (u: { certificate: Buffer } | null): void => {
      if (u !== null) seen.push(new X509Certificate(u.certificate).fingerprint256)
    }
    provider.addIdentityCertificateListener(listener)
    try {
      const first = new X509Certificate(readFileSync(files.cert)).fingerprint256
      await waitFor('the first pair', async () => (seen.length === 1 ? true : undefined), 5000)
      expect(seen).toEqual([first])
      // Half a renewal: a new key next to the old certificate is not handed out.
      const keep = readFileSync(files.cert)
      await issueCellCertificate(dir, 'api!r')
      const renewed = readFileSync(files.cert)
      writeFileSync(files.cert, keep)
      await new Promise((r) => setTimeout(r, 300))
      expect(seen).toEqual([first])
      expect(provider.fingerprint).toBe(first)
      writeFileSync(files.cert, renewed)
      const second = new X509Certificate(renewed).fingerprint256
      await waitFor('the renewed pair', async () => (seen.length === 2 ? true : undefined), 5000)
      expect(seen).toEqual([first, second])
      expect(provider.fingerprint).toBe(second)
    } finally {
      provider.removeIdentityCertificateListener(listener)
    }
  })
})
