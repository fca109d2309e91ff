/**
 * Publisher signatures (issue item 6): ECDSA P-256 with SHA-256 over the id, through WebCrypto.
 *
 * Signed bytes: the UTF-8 of `peerject code object v1\n` followed by the 64-character id. The prefix
 * separates these signatures from anything else the same key might sign. Signing the id is enough:
 * the id is the hash of the source, and the source names each dependency by id, so one signature on
 * the root covers the whole graph. Metadata (name, version, description) is not signed.
 */
import type { CodeId, CodeSignature, TrustedKey } from './types.js'

const SIGNED_PREFIX = 'peerject code object v1\n'
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGN_PARAMS = { name: 'ECDSA', hash: 'SHA-256' } as const

/** A new ECDSA P-256 key pair for `joinRoom({ code: { signingKey } })` (private key not extractable). */
export async function generateSigningKey(): Promise<CryptoKeyPair> {
  return globalThis.crypto.subtle.generateKey(ALGORITHM, false, ['sign', 'verify'])
}

/** The base64url raw form of an ECDSA P-256 public key: what `trustedKeys` accepts as a string. */
export async function exportPublicKey(key: CryptoKey): Promise<string> {
  return toBase64Url(new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', key)))
}

/**
 * Checks a `trustedKeys` option: an array of public keys (CryptoKey) or their base64url strings.
 * Throws a TypeError otherwise — a Set, a lone key or a typo must not silently mean "trust
 * everything", which is what an empty list means.
 */
export function checkTrustedKeys(value: unknown, where: string): readonly TrustedKey[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${where} must be an array of public keys (CryptoKey or exportPublicKey() strings), got ${describeValue(value)}`,
    )
  }
  for (const [index, key] of value.entries()) {
    if (typeof key === 'string') continue
    const type = (key as { type?: unknown } | null)?.type
    if (type === 'public') continue
    throw new TypeError(
      type === 'private' || type === 'secret'
        ? `${where}[${index}] is a ${type} key; trust the publisher's public key`
        : `${where}[${index}] is ${describeValue(key)}, not a public key (CryptoKey or exportPublicKey() string)`,
    )
  }
  return value as readonly TrustedKey[]
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value !== 'object') return typeof value
  return `a ${(value as object).constructor?.name ?? 'object'}`
}

/** Signs `id` with `keys.privateKey`. */
export async function signCodeId(id: CodeId, keys: CryptoKeyPair): Promise<CodeSignature> {
  const signature = await globalThis.crypto.subtle.sign(
    SIGN_PARAMS,
    keys.privateKey,
    signedBytes(id),
  )
  return {
    publicKey: await exportPublicKey(keys.publicKey),
    signature: toBase64Url(new Uint8Array(signature)),
  }
}

/**
 * True when one of `signatures` is a valid signature of `id` by one of `trusted`. Malformed keys or
 * signatures count as invalid; this never throws for hostile input.
 */
export async function hasTrustedSignature(
  id: CodeId,
  signatures: readonly CodeSignature[] | undefined,
  trusted: readonly TrustedKey[],
): Promise<boolean> {
  if (signatures === undefined || signatures.length === 0 || trusted.length === 0) return false
  const trustedRaw = new Set(
    await Promise.all(trusted.map((key) => (typeof key === 'string' ? key : exportPublicKey(key)))),
  )
  for (const candidate of signatures) {
    if (!trustedRaw.has(candidate.publicKey)) continue
    try {
      const key = await globalThis.crypto.subtle.importKey(
        'raw',
        fromBase64Url(candidate.publicKey),
        ALGORITHM,
        false,
        ['verify'],
      )
      const ok = await globalThis.crypto.subtle.verify(
        SIGN_PARAMS,
        key,
        fromBase64Url(candidate.signature),
        signedBytes(id),
      )
      if (ok) return true
    } catch {
      // A key or signature that does not decode is simply not a valid signature.
    }
  }
  return false
}

function signedBytes(id: CodeId): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(SIGNED_PREFIX + id)
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Decodes base64url; throws on characters outside the alphabet (callers treat that as invalid). */
function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new TypeError('not base64url')
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}
