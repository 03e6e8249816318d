import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { FileUrlSigner, fileUrlKey } from '../../../../api-cell/image/file-url-signer.js'

const ID = '6f1c7b0e-3d2a-4c8e-9b5f-0a1d2e3f4a5b'
const OTHER = '0b3e4a2f-1c7d-4e59-9a6b-2f8d7c6e5a41'
const NOW = 1_700_000_000_000

function parts(url: string): { path: string; expires: string; signature: string } {
  const u = new URL(url)
  return { path: u.pathname, expires: u.searchParams.get('expires') ?? '', signature: u.searchParams.get('signature') ?? '' }
}

describe('FileUrlSigner', () => {
  const key = fileUrlKey(randomBytes(32))
  const signer = new FileUrlSigner({ key, publicUrl: 'http://img.example:9292/', clock: () => NOW })

  it('signs the file path of one image with an expiry in epoch seconds', () => {
    const url = signer.signedFileUrl(ID, NOW + 86_400_000)
    const p = parts(url)
    expect(url.startsWith(`http://img.example:9292/v2/images/${ID}/file?`)).toBe(true)
    expect(p.expires).toBe(String((NOW + 86_400_000) / 1000))
    expect(p.signature).toMatch(/^[0-9a-f]{64}$/)
    expect(signer.verify(ID, p.expires, p.signature)).toBe(true)
  })

  it.each([
    ['another image', OTHER, (p: ReturnType<typeof parts>) => [p.expires, p.signature]],
    ['a later expiry', ID, (p: ReturnType<typeof parts>) => [String(Number(p.expires) + 1), p.signature]],
    ['a flipped signature digit', ID, (p: ReturnType<typeof parts>) => [p.expires, `${p.signature[0] === 'a' ? 'b' : 'a'}${p.signature.slice(1)}`]],
    ['a short signature', ID, (p: ReturnType<typeof parts>) => [p.expires, p.signature.slice(2)]],
    ['upper-case hex', ID, (p: ReturnType<typeof parts>) => [p.expires, p.signature.toUpperCase()]],
    ['no expiry', ID, (p: ReturnType<typeof parts>) => [undefined, p.signature]],
    ['a non-numeric expiry', ID, (p: ReturnType<typeof parts>) => [`${p.expires}.5`, p.signature]],
    ['repeated parameters', ID, (p: ReturnType<typeof parts>) => [[p.expires, p.expires], p.signature]],
    ['the same expiry with a leading zero', ID, (p: ReturnType<typeof parts>) => [`0${p.expires}`, p.signature]],
    ['the same expiry with a plus sign', ID, (p: ReturnType<typeof parts>) => [`+${p.expires}`, p.signature]],
    ['the same expiry with a trailing space', ID, (p: ReturnType<typeof parts>) => [`${p.expires} `, p.signature]],
    ['a signature with a trailing newline', ID, (p: ReturnType<typeof parts>) => [p.expires, `${p.signature}\n`]],
  ])('rejects %s', (_name, id, tamper) => {
    const p = parts(signer.signedFileUrl(ID, NOW + 60_000))
    const [expires, signature] = tamper(p)
    expect(signer.verify(id, expires, signature)).toBe(false)
  })

  it('rejects an expired URL, and one signed with another key', () => {
    const past = parts(signer.signedFileUrl(ID, NOW - 1))
    expect(signer.verify(ID, past.expires, past.signature)).toBe(false)
    const atNow = parts(signer.signedFileUrl(ID, NOW))
    expect(signer.verify(ID, atNow.expires, atNow.signature)).toBe(false)
    const other = new FileUrlSigner({ key: fileUrlKey(randomBytes(32)), publicUrl: 'http://img.example:9292', clock: () => NOW })
    const p = parts(other.signedFileUrl(ID, NOW + 60_000))
    expect(signer.verify(ID, p.expires, p.signature)).toBe(false)
  })

  it('derives a key distinct from the secret it comes from', () => {
    const secret = randomBytes(32)
    expect(fileUrlKey(secret).equals(secret)).toBe(false)
    expect(fileUrlKey(secret).equals(fileUrlKey(Buffer.from(secret)))).toBe(true)
  })
})
