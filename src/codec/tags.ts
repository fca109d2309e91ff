/**
 * The codec's wire vocabulary: the header byte, the tag codes of special values and the table of
 * binary types. docs/codec.md ("How special values are encoded") describes the same layout for
 * people; keep the two in step.
 *
 * A message is `header byte · msgpack body · (padding · binary section)?`. The body is plain
 * msgpack produced by the codec's private msgpackr instance. A special value is an array whose
 * first element is msgpack's never-used byte 0xC1 (msgpackr's `C1` object) followed by a tag code:
 * `[C1, TAG.MAP, k0, v0, k1, v1, …]`. User data can never contain `C1` (the encoder refuses it),
 * so no escaping is needed.
 */
import { C1 } from 'msgpackr'

/** msgpackr's sentinel for byte 0xC1; heads every tagged value. */
export const TAG_HEAD: unknown = C1

/** Codec format version, the high nibble of the header byte. */
export const FORMAT_VERSION = 1
/** Header flag: the body contains tagged values, so decode must run its revive walk. */
export const FLAG_REVIVE = 0x01
/**
 * Header byte of a message that needs no revive walk: JSON-like data plus what msgpackr reads
 * natively as itself (undefined, NaN/±Infinity, bigints, Dates, small plain Uint8Arrays).
 */
export const HEADER_PLAIN = (FORMAT_VERSION << 4) | 0
/** Header byte of a message with tagged values (and maybe a binary section). */
export const HEADER_REVIVE = (FORMAT_VERSION << 4) | FLAG_REVIVE

/** Binary leaves in the binary section start at multiples of this, counted from the header byte. */
export const BINARY_ALIGNMENT = 8
/**
 * Binary leaves smaller than this are packed inline (msgpack bin): no extra allocation, decoded
 * as views where aligned, otherwise copied (cheap at this size). Larger leaves go to the binary
 * section: aligned (so typed arrays decode as views), and never through msgpackr's shared output
 * buffer, which would otherwise grow to their size and stay that large.
 */
export const INLINE_BINARY_LIMIT = 16 * 1024

/** Tag codes: the second element of a tagged array. Layouts in the comments (after the tag). */
export const TAG = {
  /** `[index]`: the object already sent with that pre-order index (shared reference or cycle). */
  REF: 0,
  /** `[]`: the number -0 (msgpack has no integer -0 and msgpackr writes -0 as integer 0). */
  NEG_ZERO: 1,
  /** `[nullPrototype, k0, v0, …]`: a plain object with a null prototype or an own `__proto__` key. */
  OBJECT: 2,
  /** `[k0, v0, k1, v1, …]`: a Map. */
  MAP: 3,
  /** `[v0, v1, …]`: a Set. */
  SET: 4,
  /** `[source, flags]`: a RegExp. */
  REGEXP: 5,
  /**
   * `[class, name, message, stack, hasCause, cause, errors, k0, v0, …]`: an Error. `class` is a
   * number for the built-in classes ({@link ERROR_CLASSES}) or a registered class name; `stack` is
   * a string or null; `errors` is an array (AggregateError) or null.
   */
  ERROR: 6,
  /** `[className, k0, v0, …]`: an instance of a registered class. */
  INSTANCE: 7,
  /**
   * `[binaryType, bytes]`: a binary leaf ({@link TYPED_ARRAYS}, {@link BINARY_DATA_VIEW},
   * {@link BINARY_ARRAY_BUFFER}). Below {@link INLINE_BINARY_LIMIT} bytes, `bytes` is a msgpack
   * bin; from it on, `bytes` is the byte length and the bytes are in the binary section.
   */
  BINARY: 8,
  /** `[kind, data]`: a function, by-reference object or stream, as the export hook described it. */
  EXTERNAL: 9,
} as const

/** Field offsets inside an ERROR tag array (after `TAG_HEAD, TAG.ERROR`). */
export const ERROR_FIELDS = {
  CLASS: 2,
  NAME: 3,
  MESSAGE: 4,
  STACK: 5,
  HAS_CAUSE: 6,
  CAUSE: 7,
  ERRORS: 8,
  PROPS: 9,
} as const

/** What an external value is, as passed to {@link ExternalHooks}. */
export type ExternalKind = 'function' | 'reference' | 'stream'
/** Wire codes of {@link ExternalKind}, by index. */
export const EXTERNAL_KINDS: readonly ExternalKind[] = ['function', 'reference', 'stream']

/** A typed array constructor the codec knows. */
export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor

/** Binary types by wire code: 0–10 typed arrays, then DataView and ArrayBuffer. */
export const TYPED_ARRAYS: readonly TypedArrayConstructor[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
]
/** Wire code of DataView in a BINARY tag. */
export const BINARY_DATA_VIEW = 11
/** Wire code of ArrayBuffer in a BINARY tag. */
export const BINARY_ARRAY_BUFFER = 12

/** Built-in error classes by wire code (PeerjectError is built in: both sides always know it). */
export const ERROR_CLASS_NAMES = [
  'Error',
  'TypeError',
  'RangeError',
  'SyntaxError',
  'ReferenceError',
  'EvalError',
  'URIError',
  'AggregateError',
  'PeerjectError',
] as const

/** Rounds `offset` up to the next multiple of {@link BINARY_ALIGNMENT}. */
export function alignBinary(offset: number): number {
  return Math.ceil(offset / BINARY_ALIGNMENT) * BINARY_ALIGNMENT
}
