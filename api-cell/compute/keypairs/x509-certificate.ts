import { generateKeyPair, randomBytes, sign, X509Certificate } from 'node:crypto'
import { promisify } from 'node:util'
import { colonHex } from './ssh-keys.js'

/**
 * x509 key pairs (keypair type `x509`, 2.2): Nova keeps a PEM certificate as the "public key"
 * (WinRM certificate authentication) and fingerprints it as the SHA-1 of its DER, in lower-case
 * colon hex. Generation builds a self-signed client certificate with a minimal DER encoder, since
 * node:crypto parses certificates but does not issue them.
 */

/** The lower-case colon SHA-1 fingerprint of a PEM certificate; undefined when it is not one. */
export function x509Fingerprint(pem: string): string | undefined {
  try {
    const cert = new X509Certificate(pem)
    return cert.fingerprint.toLowerCase()
  } catch {
    return undefined
  }
}

const der = (tag: number, body: Buffer): Buffer => {
  const n = body.length
  let len: Buffer
  if (n < 0x80) len = Buffer.from([n])
  else {
    const bytes: number[] = []
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
    len = Buffer.from([0x80 | bytes.length, ...bytes])
  }
  return Buffer.concat([Buffer.from([tag]), len, body])
}
const seq = (...items: Buffer[]): Buffer => der(0x30, Buffer.concat(items))
const set = (...items: Buffer[]): Buffer => der(0x31, Buffer.concat(items))
const explicit = (n: number, body: Buffer): Buffer => der(0xa0 + n, body)

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number)
  const out = [40 * a + b]
  for (const v of rest) {
    const chunk: number[] = [v & 0x7f]
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) chunk.unshift((x & 0x7f) | 0x80)
    out.push(...chunk)
  }
  return der(0x06, Buffer.from(out))
}

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280, 4.1.2.5). */
const certTime = (d: Date): Buffer => {
  const digits = d.toISOString().replace(/[-:T]/g, '').slice(0, 14)
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${digits.slice(2)}Z`)) : der(0x18, Buffer.from(`${digits}Z`))
}
const SHA256_WITH_RSA = seq(oid('1.2.840.113549.1.1.11'), der(0x05, Buffer.alloc(0)))

/** A generated x509 key pair as Nova returns it. */
export interface GeneratedX509Key {
  /** PKCS#8 PEM private key. */
  readonly privateKey: string
  /** The PEM certificate (stored as the key pair's public key). */
  readonly certificate: string
  readonly fingerprint: string
}

const generateRsa = promisify(generateKeyPair)

/**
 * A self-signed RSA-2048/SHA-256 client certificate for `commonName` (Nova uses the user id),
 * valid ten years, with extended key usage `clientAuth`.
 */
export async function generateX509Key(commonName: string, now = new Date()): Promise<GeneratedX509Key> {
  const { publicKey, privateKey } = await generateRsa('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
  const serial = randomBytes(16)
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40
  const name = seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName, 'utf8')))))
  const until = new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000)
  const extKeyUsage = seq(oid('2.5.29.37'), der(0x04, seq(oid('1.3.6.1.5.5.7.3.2'))))
  const tbs = seq(
    explicit(0, der(0x02, Buffer.from([2]))),
    der(0x02, serial),
    SHA256_WITH_RSA,
    name,
    seq(certTime(now), certTime(until)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(extKeyUsage)),
  )
  const signature = sign('sha256', tbs, privateKey)
  const cert = seq(tbs, SHA256_WITH_RSA, der(0x03, Buffer.concat([Buffer.from([0]), signature])))
  const b64 = cert.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')
  const pem = `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificate: pem,
    fingerprint: colonHex(Buffer.from(new X509Certificate(cert).fingerprint.replace(/:/g, ''), 'hex')),
  }
}
