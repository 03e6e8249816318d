import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { systemContext } from '../../../../shared/context.js'
import { UnauthorizedError } from '../../../../shared/errors.js'
import { TokenService } from '../../../../api-cell/identity/tokens.js'
import type { IssueArgs } from '../../../../api-cell/identity/tokens.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function args(n: number): IssueArgs {
  // Names of varying length move the payload through every length modulo 4 (every padding case).
  const name = 'u'.repeat(1 + n)
  return {
    user: { id: `id${n}`, name, domainId: 'default', domainName: 'Default' },
    scope: { kind: 'project', id: 'p1', name: 'demo', domainId: 'default', domainName: 'Default' },
    roles: [{ id: 'r1', name: 'member' }],
    methods: ['password'],
  }
}

/** Every string we can think of that a lenient base64 or header parser could read as `token`. */
function variants(token: string): string[] {
  const [v, payload, sig] = token.split('.') as [string, string, string]
  const out: string[] = []
  for (const extra of ['=', '==', '===', ' ', '\t', '\n', '\r\n', '.', '..', 'A', 'AA', '!', '%', '\0', '\u00e9', '.x', '#', '?']) {
    out.push(token + extra)
    out.push(extra + token)
  }
  // The last signature character carries 2 unused low bits: three siblings decode to the same bytes.
  const last = ALPHABET.indexOf(sig.slice(-1))
  for (let low = 0; low < 4; low += 1) out.push(`${v}.${payload}.${sig.slice(0, -1)}${ALPHABET[(last & ~3) | low] ?? ''}`)
  // The same for the payload's last character, when its length leaves spare bits.
  const pLast = ALPHABET.indexOf(payload.slice(-1))
  for (let low = 0; low < 16; low += 1) out.push(`${v}.${payload.slice(0, -1)}${ALPHABET[(pLast & ~15) | low] ?? ''}.${sig}`)
  // Standard base64 alphabet and padding: Node's base64url decoder accepts both.
  out.push(token.replace(/-/g, '+').replace(/_/g, '/'))
  out.push(`${v}.${payload}==.${sig}`, `${v}.${payload}.${sig}=`, `${v}.${payload}=.${sig}=`)
  // Whitespace and stray characters inside a part (decoders skip them).
  out.push(`${v}.${payload}.${sig.slice(0, 10)} ${sig.slice(10)}`, `${v}.${payload.slice(0, 5)}\n${payload.slice(5)}.${sig}`)
  out.push(`${v}.${payload}.${sig.slice(0, 10)}!${sig.slice(10)}`)
  // Case.
  out.push(`V1.${payload}.${sig}`, `${v}.${payload}.${sig.toUpperCase()}`, `${v}.${payload}.${sig.toLowerCase()}`)
  // Extra or missing parts.
  out.push(`${token}.${sig}`, `${v}.${v}.${payload}.${sig}`, `${v}.${payload}`, `${payload}.${sig}`)
  return [...new Set(out)].filter((s) => s !== token)
}

describe('TokenService: only the exact issued string validates', () => {
  it.each(Array.from({ length: 8 }, (_, n) => n))('refuses every re-encoding of token #%i', (n) => {
    const tokens = new TokenService({ secret: randomBytes(32) })
    const { token } = tokens.issue(args(n))
    expect(tokens.validate(token).user.id).toBe(`id${n}`)
    const all = variants(token)
    // The list really contains strings that decode to the very same bytes: the class under test.
    const sameBytes = all.filter((s) => {
      const parts = s.split('.')
      return parts.length === 3 && Buffer.from(parts[2] ?? '', 'base64url').equals(Buffer.from(token.split('.')[2] ?? '', 'base64url'))
    })
    expect(sameBytes.length).toBeGreaterThan(3)
    for (const s of all) expect(() => tokens.validate(s), JSON.stringify(s)).toThrow(UnauthorizedError)
  })

  it('refuses an over-long string before doing any work', () => {
    const tokens = new TokenService({ secret: randomBytes(32) })
    const { token } = tokens.issue(args(0))
    expect(() => tokens.validate(token + 'A'.repeat(10_000))).toThrow(UnauthorizedError)
  })

  it('still accepts tokens signed with a previous key, only in their exact form', () => {
    const oldKey = randomBytes(32)
    const { token } = new TokenService({ secret: oldKey }).issue(args(1))
    const rotated = new TokenService({ secret: randomBytes(32), previousSecrets: [oldKey] })
    expect(rotated.validate(token).user.id).toBe('id1')
    for (const s of variants(token)) expect(() => rotated.validate(s)).toThrow(UnauthorizedError)
  })
})

describe('TokenService: role revocation and the revocation generation', () => {
  const ctx = systemContext()

  it('revokes earlier tokens carrying a deleted role (held or implied), not others nor later ones', async () => {
    const tokens = new TokenService({ secret: randomBytes(32) })
    const holder = tokens.issue({ ...args(0), roles: [{ id: 'admin', name: 'admin' }, { id: 'member', name: 'member' }] })
    const other = tokens.issue({ ...args(1), roles: [{ id: 'reader', name: 'reader' }] })
    await tokens.revokeRole(ctx, 'member')
    expect(() => tokens.validate(holder.token)).toThrow(UnauthorizedError)
    expect(tokens.validate(other.token).user.id).toBe('id1')
    // A role re-created with the same id later: new tokens carrying it are fine.
    const later = tokens.issue({ ...args(0), roles: [{ id: 'member', name: 'member' }] })
    expect(tokens.validate(later.token).roles).toEqual([{ id: 'member', name: 'member' }])
  })

  it('moves the generation on each new revocation only', async () => {
    const tokens = new TokenService({ secret: randomBytes(32) })
    const start = tokens.revocationGeneration
    await tokens.revokeUser(ctx, 'u1')
    expect(tokens.revocationGeneration).toBe(start + 1)
    await tokens.loadRevocations(ctx)
    expect(tokens.revocationGeneration).toBe(start + 1)
    const t = tokens.issue(args(2))
    await tokens.revokeToken(ctx, t.data)
    await tokens.revokeToken(ctx, t.data)
    expect(tokens.revocationGeneration).toBe(start + 2)
  })
})
