/**
 * The code channel's messages (docs/protocol.md, "Code objects (channel 2)"). Each message is one value encoded
 * by the room's codec. A fetcher sends requests; the serving peer answers each with exactly one
 * response carrying the same `rid` (a per-session counter chosen by the requester).
 *
 * ```
 * → { type: 'list', rid: 1, token }                  ← { type: 'ok', rid: 1, value: { items: CodeMetadata[] } }
 * → { type: 'get',  rid: 2, id, token }              ← { type: 'ok', rid: 2, value: { source, metadata } }
 *                                                     ← { type: 'err', rid: 2, code: 'ERR_DENIED', message }
 * ```
 *
 * Everything decoded is `unknown` until one of the guards below accepts it.
 */
import { isErrorCode, type ErrorCode } from '../errors.js'
import { isCodeId } from './code-id.js'
import type { CodeMetadata, CodeSignature } from './types.js'

/** Asks for the metadata the peer serves to this token (the registry view). */
export interface ListRequest {
  readonly type: 'list'
  readonly rid: number
  readonly token?: unknown
}

/** Asks for one code object's source and metadata. */
export interface GetRequest {
  readonly type: 'get'
  readonly rid: number
  readonly id: string
  readonly token?: unknown
}

/** A request on the code channel. */
export type CodeRequest = ListRequest | GetRequest

/** The value of an `ok` answer to `list`. */
export interface ListResult {
  readonly items: readonly CodeMetadata[]
}

/** The value of an `ok` answer to `get`. The receiver verifies `source` against the id. */
export interface GetResult {
  readonly source: string
  readonly metadata: CodeMetadata
}

/** A successful answer. */
export interface OkResponse {
  readonly type: 'ok'
  readonly rid: number
  readonly value: unknown
}

/** A refused or failed request, with a stable code. */
export interface ErrResponse {
  readonly type: 'err'
  readonly rid: number
  readonly code: ErrorCode
  readonly message: string
}

/** A response on the code channel. */
export type CodeResponse = OkResponse | ErrResponse

/** Any message on the code channel. */
export type CodeMessage = CodeRequest | CodeResponse

/** Longest name, version, or key/signature string accepted in metadata. */
export const MAX_SHORT_TEXT = 256
/** Longest description accepted in metadata. */
export const MAX_DESCRIPTION = 4096
/** Most signatures accepted on one code object. */
export const MAX_SIGNATURES = 16
/** Longest error message relayed from a peer (longer ones are cut). */
export const MAX_ERROR_MESSAGE = 1024
/** Default `timeoutMs` of run(). */
export const DEFAULT_RUN_TIMEOUT_MS = 30_000

type Fields = Readonly<Record<string, unknown>>

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A request id: a positive safe integer. */
export function isRequestId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

function isShortText(value: unknown, max = MAX_SHORT_TEXT): value is string {
  return typeof value === 'string' && value.length <= max
}

function isOptionalText(value: unknown, max = MAX_SHORT_TEXT): boolean {
  return value === undefined || isShortText(value, max)
}

/** True for a well-formed {@link CodeSignature}. */
export function isCodeSignature(value: unknown): value is CodeSignature {
  return isRecord(value) && isShortText(value['publicKey']) && isShortText(value['signature'])
}

/** True for well-formed {@link CodeMetadata} with at most `maxDependencies` dependencies. */
export function isCodeMetadata(value: unknown, maxDependencies = 1024): value is CodeMetadata {
  if (!isRecord(value)) return false
  const { id, name, version, description, dependencies, size, signatures } = value
  return (
    isCodeId(id) &&
    isShortText(name) &&
    isOptionalText(version) &&
    isOptionalText(description, MAX_DESCRIPTION) &&
    Array.isArray(dependencies) &&
    dependencies.length <= maxDependencies &&
    dependencies.every(isCodeId) &&
    typeof size === 'number' &&
    Number.isSafeInteger(size) &&
    size >= 0 &&
    (signatures === undefined ||
      (Array.isArray(signatures) &&
        signatures.length <= MAX_SIGNATURES &&
        signatures.every(isCodeSignature)))
  )
}

/** True for a request (fields checked; `id` format is checked by the server to answer precisely). */
export function isCodeRequest(value: unknown): value is CodeRequest {
  if (!isRecord(value) || !isRequestId(value['rid'])) return false
  if (value['type'] === 'list') return true
  return value['type'] === 'get' && typeof value['id'] === 'string'
}

/** True for a response. */
export function isCodeResponse(value: unknown): value is CodeResponse {
  if (!isRecord(value) || !isRequestId(value['rid'])) return false
  if (value['type'] === 'ok') return 'value' in value
  return (
    value['type'] === 'err' && isErrorCode(value['code']) && typeof value['message'] === 'string'
  )
}

/** True for the value of an `ok` answer to `list` holding at most `maxEntries` items. */
export function isListResult(value: unknown, maxEntries: number): value is ListResult {
  if (!isRecord(value)) return false
  const items = value['items']
  return (
    Array.isArray(items) &&
    items.length <= maxEntries &&
    items.every((item) => isCodeMetadata(item))
  )
}

/** True for the value of an `ok` answer to `get` (the source's size and hash are checked later). */
export function isGetResult(value: unknown): value is GetResult {
  return isRecord(value) && typeof value['source'] === 'string' && isCodeMetadata(value['metadata'])
}

/** Copies the fields of a metadata value that peerject defines, dropping anything else. */
export function cleanMetadata(metadata: CodeMetadata): CodeMetadata {
  return {
    id: metadata.id,
    name: metadata.name,
    ...(metadata.version === undefined ? {} : { version: metadata.version }),
    ...(metadata.description === undefined ? {} : { description: metadata.description }),
    dependencies: [...metadata.dependencies],
    size: metadata.size,
    ...(metadata.signatures === undefined
      ? {}
      : {
          signatures: metadata.signatures.map((s) => ({
            publicKey: s.publicKey,
            signature: s.signature,
          })),
        }),
  }
}
