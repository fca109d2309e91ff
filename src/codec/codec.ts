/**
 * Values ⇄ bytes. A Codec owns ONE private msgpackr instance configured here; it never calls
 * msgpackr's global `addExtension`, so an application's own msgpackr use is unaffected, and it
 * never lets msgpackr reach `new Function` (no records when packing; record definitions refused
 * before unpacking, see scan.ts), so it works under a strict Content-Security-Policy.
 *
 * Message layout (docs/codec.md has the full table):
 *
 * | offset | bytes                                                                     |
 * |--------|---------------------------------------------------------------------------|
 * | 0      | header: format version (high nibble) · FLAG_REVIVE (bit 0)               |
 * | 1      | msgpack body: one value, special values as tagged arrays                 |
 * | …      | binary section (only with binary leaves): each leaf at an 8-aligned offset |
 *
 * A message without special values (plain JSON-like data, dates, bigints, undefined, NaN) has
 * FLAG_REVIVE clear, and decoding it is one msgpackr unpack with no second walk.
 */
import { Packr, RESERVE_START_SPACE, type Options } from 'msgpackr'
import { joinInto, totalLength } from '../bytes.js'
import { PeerjectError, isPeerjectError } from '../errors.js'
import type { ClassRegistry } from './class-registry.js'
import { Decoder, badMessage, type DecoderSettings } from './decoder.js'
import { Encoder, type EncoderSettings, type ExternalHooks } from './encoder.js'
import { NOT_PRIMITIVE_ARRAYS, PrimitiveArrays } from './primitive-arrays.js'
import { scanBody } from './scan.js'
import { SnapshotPool } from './snapshot-pool.js'
import { HEADER_PLAIN, HEADER_REVIVE, alignBinary } from './tags.js'

/**
 * The codec's msgpackr configuration (every codec's private Packr has it). Exported for tests
 * that compare the codec's own readers and writers with msgpackr's.
 */
export const PACKR_OPTIONS = {
  // No record structures: msgpackr compiles record readers with `new Function`.
  useRecords: false,
  mapsAsObjects: true,
  // Sets, errors, RegExps and binaries are tagged by the codec; msgpackr's own extensions
  // for them stay off, so the only extension types on the wire are the three scan.ts allows.
  moreTypes: false,
  // References and cycles are the codec's (REF tags); msgpackr's 0x69/0x70 are refused.
  structuredClone: false,
  useBigIntExtension: true,
  int64AsType: 'bigint',
  useToJSON: false,
  variableMapSize: true,
  bundleStrings: false,
  copyBuffers: false,
  encodeUndefinedAsNil: false,
} as const satisfies Options

/** Options of {@link Codec}. */
export interface CodecOptions {
  /** The user's classes whose instances cross by value (register the same on both peers). */
  readonly classes?: ClassRegistry
  /** Send Error stacks (default false: stacks can reveal paths and internals). */
  readonly includeStacks?: boolean
  /** Maximum nesting of objects, for encode and decode (default 256); deeper → ERR_TOO_LARGE. */
  readonly maxDepth?: number
  /**
   * Most memory a received value may take once decoded, estimated from its bytes before anything
   * is built (containers, binaries, dates and bigints ~64 bytes each, every item 8 more, strings
   * their length; a binary's bytes are not copied): past it, ERR_TOO_LARGE. Default 256 MiB.
   */
  readonly maxDecodedBytes?: number
}

/** Default {@link CodecOptions.maxDepth}. */
export const DEFAULT_MAX_DEPTH = 256

/** Default {@link CodecOptions.maxDecodedBytes}. */
export const DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024

/** Encodes values to bytes and back; see the file comment and docs/codec.md. */
export class Codec {
  readonly #packr: Packr
  readonly #encoding: EncoderSettings
  readonly #decoding: DecoderSettings
  readonly #maxDepth: number
  readonly #maxDecodedBytes: number
  readonly #snapshots = new SnapshotPool()
  readonly #primitiveArrays = new PrimitiveArrays()

  constructor(options: CodecOptions = {}) {
    const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
    if (!Number.isInteger(maxDepth) || maxDepth < 1) {
      throw new PeerjectError(
        'ERR_TOO_LARGE',
        `maxDepth must be a positive integer, got ${maxDepth}`,
      )
    }
    this.#encoding = {
      classes: options.classes,
      includeStacks: options.includeStacks ?? false,
      maxDepth,
    }
    const maxDecodedBytes = options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES
    if (!Number.isInteger(maxDecodedBytes) || maxDecodedBytes < 1) {
      throw new RangeError(`maxDecodedBytes must be a positive integer, got ${maxDecodedBytes}`)
    }
    this.#decoding = { classes: options.classes, maxDepth }
    this.#maxDepth = maxDepth
    this.#maxDecodedBytes = maxDecodedBytes
    this.#packr = new Packr(PACKR_OPTIONS)
  }

  /**
   * Encodes `value`. Throws ERR_UNSERIALIZABLE (naming the path) for what cannot cross, and
   * ERR_TOO_LARGE past `maxDepth`. `hooks` let functions, by-reference objects and streams cross.
   * The result may be a view into msgpackr's output buffer, shared with earlier and later results:
   * do not write to it or transfer its buffer (postMessage transfer list); copy it first.
   */
  encode(value: unknown, hooks?: ExternalHooks): Uint8Array {
    const parts = this.encodeParts(value, hooks, false)
    return parts.length === 1 ? parts[0]! : joinInto(parts, allocate(totalLength(parts)))
  }

  /**
   * Encodes a value built only of arrays and primitives other than -0 and bigints, skipping the
   * walk {@link encode} makes (it would change nothing: such a value has no tags, references or
   * binaries). The bytes are the same as `encode(value)`'s. The rpc layer uses it for its own
   * messages of primitives (src/rpc/outbox.ts), which it has checked; anything else must use
   * {@link encode}.
   */
  encodePrimitives(value: readonly unknown[]): Uint8Array {
    const fast = this.#primitiveArrays.pack(value, HEADER_PLAIN)
    if (fast !== undefined) return fast
    const message = plain(this.#pack(value, RESERVE_START_SPACE | 1))
    message[0] = HEADER_PLAIN
    return message
  }

  /**
   * Encodes `value` as consecutive parts whose concatenation is what {@link encode} returns.
   * Binary leaves of at least {@link PART_MIN_BYTES} are parts of their own, so a large binary is
   * framed by the wire straight from its bytes instead of being copied into one big message first.
   * With `snapshot` (the default) they are copies taken now, so the caller may change its buffers
   * as soon as this returns; without it they are views of the caller's buffers, which must then
   * stay unchanged until the message is sent. With a set of buffers, the large leaves viewing one
   * of them are views and the others copies (`send`'s transfer list, src/transfer.ts). The other
   * parts are fresh copies. Give the parts to {@link recycle} once nothing reads them any more.
   */
  encodeParts(
    value: unknown,
    hooks?: ExternalHooks,
    snapshot: boolean | ReadonlySet<ArrayBufferLike> = true,
  ): Uint8Array[] {
    const encoder = new Encoder(this.#encoding, hooks)
    const wire = encoder.value(value, 0)
    const header = encoder.tagged ? HEADER_REVIVE : HEADER_PLAIN
    if (encoder.binaries.length === 0) {
      const message = plain(this.#pack(wire, RESERVE_START_SPACE | 1))
      message[0] = header
      return [message]
    }
    const body = this.#pack(wire, 0)
    // Layout: header, body, then each binary at an aligned offset. Runs of small pieces (the
    // body, small binaries, padding) are copied into one part each; large binaries stand alone.
    const parts: Uint8Array[] = []
    // Pieces of the current run and their offsets in the message.
    const run: Uint8Array[] = [body]
    const runAt: number[] = [1]
    let runStart = 0
    let offset = 1 + body.length
    const flush = (end: number): void => {
      const part = allocate(end - runStart)
      if (runStart === 0) part[0] = header
      for (let i = 0; i < run.length; i++) part.set(run[i]!, runAt[i]! - runStart)
      parts.push(part)
      run.length = 0
      runAt.length = 0
    }
    for (const bytes of encoder.binaries) {
      const start = alignBinary(offset)
      if (bytes.length >= PART_MIN_BYTES) {
        if (start > runStart) flush(start)
        const copy = snapshot === true || (snapshot !== false && !snapshot.has(bytes.buffer))
        parts.push(copy ? this.#snapshots.copy(bytes) : plain(bytes))
        runStart = start + bytes.length
      } else {
        run.push(bytes)
        runAt.push(start)
      }
      offset = start + bytes.length
    }
    if (offset > runStart) flush(offset)
    return parts
  }

  /**
   * The parts of an {@link encodeParts} result are no longer read (the send settled): the memory
   * of its snapshot copies may serve later snapshots (src/codec/snapshot-pool.ts).
   */
  recycle(parts: readonly Uint8Array[]): void {
    this.#snapshots.recycle(parts)
  }

  /**
   * Decodes bytes from a peer. Treats them as hostile: anything malformed is ERR_BAD_MESSAGE
   * (msgpackr's error as `cause`), nesting past `maxDepth` and a value estimated past
   * `maxDecodedBytes` are ERR_TOO_LARGE, and nothing else is
   * thrown except what `hooks.import` throws as a PeerjectError. Binary leaves are returned as
   * views into `bytes` where alignment allows, so `bytes` must not be reused afterwards.
   */
  decode(bytes: Uint8Array, hooks?: ExternalHooks): unknown {
    try {
      return this.#decode(bytes, hooks)
    } catch (error) {
      if (isPeerjectError(error)) throw error
      throw badMessage(error instanceof Error ? error.message : String(error), error)
    }
  }

  #decode(input: Uint8Array, hooks: ExternalHooks | undefined): unknown {
    if (!(input instanceof Uint8Array)) throw badMessage('expected a Uint8Array')
    if (input[0] === HEADER_PLAIN) {
      // Arrays of primitives (every rpc message of primitives) skip the scan and msgpackr.
      const fast = this.#primitiveArrays.unpack(input, 1, this.#maxDepth, this.#maxDecodedBytes)
      if (fast !== NOT_PRIMITIVE_ARRAYS) return fast
    }
    // Node Buffers would unpack strings through Buffer and are not what views should share:
    // use a plain view of them. (msgpackr caches a DataView as `dataView` on what it is given.)
    const bytes = Object.getPrototypeOf(input) === Uint8Array.prototype ? input : plain(input)
    const header = bytes[0]
    if (header !== HEADER_PLAIN && header !== HEADER_REVIVE) {
      throw badMessage(
        bytes.length === 0 ? 'empty' : `unknown format byte 0x${(header ?? 0).toString(16)}`,
      )
    }
    const revive = header === HEADER_REVIVE
    const maxContainers = revive ? this.#maxDepth + 1 : this.#maxDepth
    const bodyEnd = scanBody(bytes, 1, maxContainers, revive, this.#maxDecodedBytes)
    if (!revive && bodyEnd !== bytes.length) throw badMessage('unexpected bytes after the value')
    let wire: unknown
    try {
      wire = this.#packr.unpack(bytes, { start: 1, end: bodyEnd })
    } catch (error) {
      throw badMessage(error instanceof Error ? error.message : String(error), error)
    } finally {
      // msgpackr keeps the last input it read (module-wide) until the next unpack: after a large
      // message, read a tiny one, so the large one is not held after its value is dropped.
      if (bytes.byteLength > MAX_KEPT_PACK_BUFFER) this.#packr.unpack(NIL)
    }
    if (!revive) return wire
    const decoder = new Decoder(this.#decoding, hooks, bytes, bodyEnd)
    const value = decoder.value(wire, 0)
    decoder.finish()
    return value
  }

  #pack(wire: unknown, options: number): Uint8Array {
    try {
      const bytes = this.#packr.pack(wire, options)
      // msgpackr packs into one buffer it keeps (shared by every Packr) and returns views of it;
      // after a large message that buffer stays large, every later message is a view pinning it,
      // and each refill allocates one as large. Start afresh: the large one lives only as long as
      // the large message.
      if (bytes.buffer.byteLength > MAX_KEPT_PACK_BUFFER) {
        this.#packr.useBuffer(packBuffer(FRESH_PACK_BUFFER))
      }
      return bytes
    } catch (error) {
      throw new PeerjectError(
        'ERR_UNSERIALIZABLE',
        `msgpack could not encode the value: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      )
    }
  }
}

/** One msgpack nil: what the codec unpacks to make msgpackr let go of a large input. */
const NIL = Uint8Array.of(0xc0)

/** A msgpackr output buffer larger than this is replaced by a fresh one after use. */
const MAX_KEPT_PACK_BUFFER = 1024 * 1024

/** Size of that fresh buffer (msgpackr grows it as needed). */
const FRESH_PACK_BUFFER = 64 * 1024

/**
 * A buffer of the kind msgpackr allocates for itself: a Node `Buffer` where `Buffer` exists (its
 * string writer calls `Buffer#utf8Write`), else a Uint8Array.
 */
function packBuffer(size: number): Uint8Array {
  const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } })
    .Buffer
  return NodeBuffer === undefined ? new Uint8Array(size) : NodeBuffer.allocUnsafeSlow(size)
}

/** Binary leaves at least this large are parts of their own in {@link Codec.encodeParts}. */
export const PART_MIN_BYTES = 64 * 1024

function allocate(total: number): Uint8Array {
  try {
    return new Uint8Array(total)
  } catch (error) {
    throw new PeerjectError(
      'ERR_TOO_LARGE',
      `cannot allocate a ${total}-byte message; send large binaries in smaller pieces`,
      { cause: error },
    )
  }
}

/** A plain Uint8Array view of `bytes` (never a Node Buffer), without copying. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
