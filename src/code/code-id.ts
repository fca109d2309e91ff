/**
 * Content addresses: a code object's id is the lowercase hex SHA-256 of its source's UTF-8 bytes
 * (WebCrypto, so the same in browsers and Node). Dependencies are named in the source as
 * `'peerject:<id>'` string literals, so the root id pins the whole graph: changing any module
 * changes its id and therefore the source (and id) of everything that imports it.
 */
import type { CodeId } from './types.js'

const ID_PATTERN = /^[0-9a-f]{64}$/

/**
 * A dependency specifier inside a source: `'peerject:<id>'` or `"peerject:<id>"`. The worker runtime
 * (worker/runtime.ts) rewrites exactly these literals, so both must use this same pattern.
 */
export const DEPENDENCY_SPECIFIER = /(['"])peerject:([0-9a-f]{64})\1/g

/** True for a well-formed id (64 lowercase hex characters). */
export function isCodeId(value: unknown): boolean {
  return typeof value === 'string' && ID_PATTERN.test(value)
}

/** UTF-8 size of `source` in bytes. */
export function sourceBytes(source: string): number {
  return new TextEncoder().encode(source).byteLength
}

/** The id of `source`: hex SHA-256 of its UTF-8 bytes. */
export async function codeIdOf(source: string): Promise<CodeId> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(source))
  return toHex(new Uint8Array(digest))
}

/** The ids `source` imports, in order of first appearance, without repeats. */
export function scanDependencies(source: string): CodeId[] {
  const found = new Set<CodeId>()
  for (const match of source.matchAll(DEPENDENCY_SPECIFIER)) {
    const id = match[2]
    if (id !== undefined) found.add(id)
  }
  return [...found]
}

/** `a1b2c3d4…` (with the name when known), for messages. */
export function shortId(id: CodeId, name?: string): string {
  const short = `${id.slice(0, 8)}…`
  return name === undefined ? short : `${short} ('${name}')`
}

function toHex(bytes: Uint8Array): string {
  let hex = ''
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0')
  return hex
}
