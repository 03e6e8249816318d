import { createHash, generateKeyPair } from 'node:crypto'
import { promisify } from 'node:util'

/**
 * OpenSSH public keys: validation, fingerprint and generation, with node:crypto only. Nova reads
 * keys with `cryptography` and fingerprints them as the MD5 of the key blob in colon-separated
 * hex (`ssh-keygen -E md5` without the `MD5:` prefix); clients compare that string, so it must match.
 */

/** Key types accepted on import (what `cryptography.load_ssh_public_key` reads). */
export const SSH_KEY_TYPES = ['ssh-rsa', 'ssh-dss', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'] as const

/** Reads the length-prefixed strings of an SSH wire-format blob; undefined when malformed. */
function readStrings(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = []
  let at = 0
  while (at < blob.length) {
    if (at + 4 > blob.length) return undefined
    const len = blob.readUInt32BE(at)
    at += 4
    if (at + len > blob.length) return undefined
    out.push(blob.subarray(at, at + len))
    at += len
  }
  return out
}

/** How many fields follow the type name in each key type's blob, and a check on them. */
const SHAPES: Readonly<Record<(typeof SSH_KEY_TYPES)[number], (f: readonly Buffer[]) => boolean>> = {
  'ssh-rsa': (f) => f.length === 2 && f.every((b) => b.length > 0),
  'ssh-dss': (f) => f.length === 4 && f.every((b) => b.length > 0),
  'ssh-ed25519': (f) => f.length === 1 && f[0]?.length === 32,
  'ecdsa-sha2-nistp256': (f) => f.length === 2 && f[0]?.toString() === 'nistp256' && (f[1]?.length ?? 0) > 0,
  'ecdsa-sha2-nistp384': (f) => f.length === 2 && f[0]?.toString() === 'nistp384' && (f[1]?.length ?? 0) > 0,
  'ecdsa-sha2-nistp521': (f) => f.length === 2 && f[0]?.toString() === 'nistp521' && (f[1]?.length ?? 0) > 0,
}

/** The key blob of an OpenSSH public key line (`type base64 [comment]`), or undefined if invalid. */
export function sshKeyBlob(publicKey: string): Buffer | undefined {
  const [type, b64] = publicKey.trim().split(/\s+/)
  if (type === undefined || b64 === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined
  const shape = SHAPES[type as keyof typeof SHAPES] as ((f: readonly Buffer[]) => boolean) | undefined
  if (shape === undefined) return undefined
  const blob = Buffer.from(b64, 'base64')
  const fields = readStrings(blob)
  if (fields === undefined || fields[0]?.toString() !== type || !shape(fields.slice(1))) return undefined
  return blob
}

/** `aa:bb:...` (16 bytes) MD5 of the key blob; undefined when the key is not a valid SSH key. */
export function sshFingerprint(publicKey: string): string | undefined {
  const blob = sshKeyBlob(publicKey)
  if (blob === undefined) return undefined
  return colonHex(createHash('md5').update(blob).digest())
}

/** Bytes as lower-case hex pairs joined by colons. */
export function colonHex(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':')
}

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(b.length)
  return Buffer.concat([len, b])
}

/** An unsigned big-endian integer as an SSH `mpint` (a leading zero keeps it positive). */
function mpint(unsigned: Buffer): Buffer {
  let i = 0
  while (i < unsigned.length - 1 && unsigned[i] === 0) i += 1
  const v = unsigned.subarray(i)
  return sshString((v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v)
}

/** A generated key pair as Nova returns it. */
export interface GeneratedSshKey {
  /** PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), as paramiko writes it. */
  readonly privateKey: string
  /** `ssh-rsa AAAA... Generated-by-Nova`. */
  readonly publicKey: string
  readonly fingerprint: string
}

const generateRsa = promisify(generateKeyPair)

/** A new 2048-bit ssh-rsa key pair (off the event loop: RSA generation takes tens of ms). */
export async function generateSshKey(): Promise<GeneratedSshKey> {
  const { publicKey, privateKey } = await generateRsa('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
  const jwk = publicKey.export({ format: 'jwk' })
  const blob = Buffer.concat([
    sshString(Buffer.from('ssh-rsa')),
    mpint(Buffer.from(jwk.e ?? '', 'base64url')),
    mpint(Buffer.from(jwk.n ?? '', 'base64url')),
  ])
  const line = `ssh-rsa ${blob.toString('base64')} Generated-by-Nova`
  return {
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKey: line,
    fingerprint: colonHex(createHash('md5').update(blob).digest()),
  }
}
