import { createHash, X509Certificate } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateSshKey, sshFingerprint, sshKeyBlob } from '../../../../../api-cell/compute/keypairs/ssh-keys.js'
import { generateX509Key, x509Fingerprint } from '../../../../../api-cell/compute/keypairs/x509-certificate.js'

/** An ed25519 key from OpenSSH's test suite style: type, 32-byte key. */
function ed25519Line(): string {
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b])
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(Buffer.alloc(32, 7))])
  return `ssh-ed25519 ${blob.toString('base64')} someone@example`
}

describe('ssh keys', () => {
  it('generates an ssh-rsa pair whose fingerprint is the MD5 of the key blob, colon-separated', async () => {
    const k = await generateSshKey()
    expect(k.publicKey).toMatch(/^ssh-rsa AAAAB3NzaC1yc2E[A-Za-z0-9+/=]+ Generated-by-Nova$/)
    expect(k.privateKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/)
    const blob = Buffer.from(k.publicKey.split(' ')[1]!, 'base64')
    const md5 = createHash('md5').update(blob).digest('hex')
    expect(k.fingerprint).toBe(md5.match(/../g)!.join(':'))
    expect(sshFingerprint(k.publicKey)).toBe(k.fingerprint)
  })

  it('accepts ed25519 keys and fingerprints them the same way', () => {
    const line = ed25519Line()
    expect(sshFingerprint(line)).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/)
  })

  it.each([
    ['empty', ''],
    ['no key data', 'ssh-rsa'],
    ['not base64', 'ssh-rsa !!!notbase64'],
    ['unknown type', `ssh-foo ${Buffer.from('abc').toString('base64')}`],
    ['type mismatch inside the blob', ed25519Line().replace('ssh-ed25519', 'ssh-rsa')],
    ['truncated blob', `ssh-ed25519 ${Buffer.from([0, 0, 0, 11, 1, 2]).toString('base64')}`],
    ['a certificate is not an ssh key', '-----BEGIN CERTIFICATE-----'],
  ])('rejects %s', (_what, line) => {
    expect(sshKeyBlob(line)).toBeUndefined()
    expect(sshFingerprint(line)).toBeUndefined()
  })
})

describe('x509 keys', () => {
  it('generates a self-signed client certificate for the user, fingerprinted as lower-case SHA-1', async () => {
    const k = await generateX509Key('user-1')
    const cert = new X509Certificate(k.certificate)
    expect(cert.subject).toBe('CN=user-1')
    expect(cert.verify(cert.publicKey)).toBe(true)
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2'])
    expect(k.fingerprint).toBe(cert.fingerprint.toLowerCase())
    expect(x509Fingerprint(k.certificate)).toBe(k.fingerprint)
    expect(k.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
  })

  it('does not fingerprint what is not a certificate', () => {
    expect(x509Fingerprint('ssh-rsa AAAA')).toBeUndefined()
  })
})
