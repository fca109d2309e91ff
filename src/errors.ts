/**
 * The one error class peerject throws, rejects with and reports. Every failure carries a stable
 * `code` from {@link ErrorCode}; the table in README.md ("Error codes") documents each one.
 * Wrapped failures keep the original in `cause`.
 */

/** Stable error codes. Adding one is a minor release; renaming or removing one is a major release. */
export const ERROR_CODES = [
  /** A value, frame or signaling message is malformed or violates the protocol. */
  'ERR_BAD_MESSAGE',
  /** The other side speaks a protocol version this build does not. */
  'ERR_VERSION',
  /** A size limit was exceeded (message bytes, frame bytes, depth, reassembly). */
  'ERR_TOO_LARGE',
  /** Too many messages in too little time. */
  'ERR_RATE_LIMITED',
  /** A per-peer quota (exports held, calls in flight, streams) was exceeded. */
  'ERR_QUOTA',
  /** The room already holds its maximum number of peers. */
  'ERR_ROOM_FULL',
  /** A token, an authorizer or a policy refused the operation. */
  'ERR_DENIED',
  /** A value cannot cross the wire (the message names the path). */
  'ERR_UNSERIALIZABLE',
  /** The peer left (or its connection broke) before the operation finished. */
  'ERR_PEER_LEFT',
  /** The caller aborted through an AbortSignal. */
  'ERR_ABORTED',
  /** An operation did not finish in its time limit. */
  'ERR_TIMEOUT',
  /** A peer-to-peer connection could not be established. */
  'ERR_CONNECT',
  /** The signaling server could not be reached or closed the session. */
  'ERR_SIGNALING',
  /** The room, session or stub was already closed or released. */
  'ERR_CLOSED',
  /** A named object, code object or dependency does not exist. */
  'ERR_NOT_FOUND',
  /** Fetched bytes do not match their content address. */
  'ERR_INTEGRITY',
  /** A signature is missing, invalid, or from an untrusted key. */
  'ERR_SIGNATURE',
  /** A code object failed to load or evaluate. */
  'ERR_CODE_LOAD',
  /** A remote call threw something that is not an Error. */
  'ERR_REMOTE',
  /** A bug or an unexpected failure inside peerject. */
  'ERR_INTERNAL',
] as const

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number]

/** Options for {@link PeerjectError}. */
export interface PeerjectErrorOptions {
  /** The error this one wraps. */
  readonly cause?: unknown
}

/** The error class of peerject: `code` is stable and documented, `message` says what to do. */
export class PeerjectError extends Error {
  override readonly name = 'PeerjectError'
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: PeerjectErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
  }
}

/** True when `value` is a {@link PeerjectError}, optionally with the given code. */
export function isPeerjectError(value: unknown, code?: ErrorCode): value is PeerjectError {
  return value instanceof PeerjectError && (code === undefined || value.code === code)
}

/** True when `value` is one of the {@link ERROR_CODES}. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value)
}

/** Formats a byte count for error messages: `3.2 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'] as const
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1).replace(/\.0$/, '')} ${units[unit]}`
}

/** The standard ECMAScript error classes (AggregateError aside), in a fixed order. */
export const STANDARD_ERROR_CLASSES: readonly ErrorConstructor[] = [
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
]
