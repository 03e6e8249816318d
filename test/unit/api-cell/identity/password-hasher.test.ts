import { describe, expect, it } from 'vitest'
import { DEFAULT_SCRYPT_COST, generatePassword, hashPassword, verifyPassword } from '../../../../api-cell/identity/password-hasher.js'

const cheap = { log2N: 10, r: 8, p: 1 }

describe('scrypt password hashing', () => {
  it('hashes with the default cost, and verifies only the right password', async () => {
    const stored = await hashPassword('correct horse')
    expect(stored).toMatch(new RegExp(`^scrypt\\$${DEFAULT_SCRYPT_COST.log2N}\\$8\\$1\\$[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+$`))
    expect(stored).not.toContain('correct horse')
    expect(await verifyPassword('correct horse', stored)).toBe(true)
    expect(await verifyPassword('correct horsE', stored)).toBe(false)
    expect(await verifyPassword('', stored)).toBe(false)
  })

  it('salts every hash', async () => {
    const a = await hashPassword('same', cheap)
    const b = await hashPassword('same', cheap)
    expect(a).not.toBe(b)
    expect(await verifyPassword('same', a)).toBe(true)
    expect(await verifyPassword('same', b)).toBe(true)
  })

  it('verifies with the cost stored in the hash, not the current default', async () => {
    const stored = await hashPassword('pw', cheap)
    expect(stored.startsWith('scrypt$10$8$1$')).toBe(true)
    expect(await verifyPassword('pw', stored)).toBe(true)
  })

  it('treats unicode passwords in normal form consistently', async () => {
    const stored = await hashPassword('caf\u00e9', cheap)
    expect(await verifyPassword('cafe\u0301', stored)).toBe(true)
  })

  it.each([null, '', 'plain', 'scrypt$10$8$1$$', 'scrypt$99$8$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==', 'bcrypt$10$8$1$a$b'])(
    'never matches a malformed hash %j',
    async (stored) => {
      expect(await verifyPassword('pw', stored)).toBe(false)
    },
  )

  it('generates long, distinct, URL-safe passwords', () => {
    const a = generatePassword()
    const b = generatePassword()
    expect(a).toMatch(/^[A-Za-z0-9_-]{24}$/)
    expect(a).not.toBe(b)
  })
})
