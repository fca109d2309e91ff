/**
 * The codec's fast path for the commonest small message: arrays whose leaves are numbers, ASCII
 * strings, booleans, null and undefined. Every rpc message of primitives is one
 * (`[['call', 7, 1, ['echo'], [42]], ['pull', 7]]`, `['return', 7, 42]`). Through msgpackr
 * and the scan, such a message costs about three times what this path does, and those costs were
 * most of an rpc round trip's overhead over the raw wire (docs/architecture.md, "RPC round trip").
 *
 * The format is the codec's own, unchanged: {@link PrimitiveArrays.pack} writes the very bytes
 * msgpackr writes in the codec's configuration (smallest integer form, float64 for other
 * numbers, `d4 00 00` for undefined, the smallest string header), and
 * {@link PrimitiveArrays.unpack} reads them back. Each does only that subset and gives up on
 * anything else, leaving the message to msgpackr: the packer on any other leaf (a non-ASCII
 * string among them, where msgpackr's own writers differ on lone surrogates), the reader on any
 * other token and on any input the scan (scan.ts) would refuse: truncated, trailing bytes,
 * nested past the depth limit, or estimated past `maxDecodedBytes` the way the scan estimates.
 * Giving up, the reader has built nothing the caller sees; the standard path then decodes or
 * rejects the message with its own errors, so a peer cannot tell which path read its bytes.
 */

import {
  DECODED_CONTAINER_BYTES,
  DECODED_SLOT_BYTES,
  DECODED_STRING_BYTES,
  readLength,
} from './scan.js'

/** What {@link PrimitiveArrays.unpack} returns when the input is not for it. */
export const NOT_PRIMITIVE_ARRAYS: unique symbol = Symbol('not primitive arrays')

/** Bytes of the first output buffer, and of each new one unless a message needs more. */
const CHUNK_BYTES = 8192

/** Strings longer than this are read with TextDecoder instead of `String.fromCharCode`. */
const SHORT_STRING = 64

/** Strings of up to this many characters are looked up in the table of known strings. */
const MAX_KNOWN_LENGTH = 7

/** Slots of that table (a prime: keys are spread by their remainder). */
const KNOWN_SLOTS = 509

/** True on little-endian platforms (all current ones): float bytes are reversed on the wire. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/**
 * Packs and unpacks arrays of primitives for one codec. Holds an output buffer that results are
 * views of (as msgpackr's are): a result stays valid, later results are written after it.
 */
export class PrimitiveArrays {
  #chunk = new Uint8Array(CHUNK_BYTES)
  #position = 0
  /** Start of the message being written. */
  #start = 0
  readonly #float = new Float64Array(1)
  readonly #floatBytes = new Uint8Array(this.#float.buffer)
  readonly #textDecoder = new TextDecoder()
  /** The table of `#text`'s known strings: a slot's key, and its string. */
  readonly #knownKeys = new Float64Array(KNOWN_SLOTS).fill(-1)
  readonly #knownStrings: string[] = new Array<string>(KNOWN_SLOTS).fill('')
  /** The message being read, where, and the scan's estimate of it so far (scan.ts). */
  #bytes: Uint8Array = EMPTY
  #at = 0
  #end = 0
  #maxContainers = 0
  #tokens = 0
  #extra = 0

  /**
   * `header` followed by the msgpack encoding of `value`, or undefined when `value` holds
   * anything but arrays, numbers, ASCII strings, booleans, null and undefined.
   */
  pack(value: readonly unknown[], header: number): Uint8Array | undefined {
    this.#start = this.#position
    this.#room(1)
    this.#chunk[this.#position++] = header
    if (!this.#array(value)) {
      this.#position = this.#start
      return undefined
    }
    return this.#chunk.subarray(this.#start, this.#position)
  }

  /**
   * The value encoded in `bytes[start..]` (the whole rest), or {@link NOT_PRIMITIVE_ARRAYS} when
   * it is anything but an array of the leaves {@link pack} writes, or would fail the scan's
   * checks (`maxContainers` nested containers, `maxDecodedBytes` estimated). Never throws.
   */
  unpack(
    bytes: Uint8Array,
    start: number,
    maxContainers: number,
    maxDecodedBytes: number,
  ): unknown {
    const token = bytes[start]
    if (token === undefined || !((token >= 0x90 && token < 0xa0) || token === 0xdc)) {
      return NOT_PRIMITIVE_ARRAYS
    }
    this.#bytes = bytes
    this.#at = start
    this.#end = bytes.length
    this.#maxContainers = maxContainers
    this.#tokens = 0
    this.#extra = 0
    const value = this.#value(0)
    this.#bytes = EMPTY
    if (
      value === NOT_PRIMITIVE_ARRAYS ||
      this.#at !== this.#end ||
      this.#extra + this.#tokens * DECODED_SLOT_BYTES > maxDecodedBytes
    ) {
      return NOT_PRIMITIVE_ARRAYS
    }
    return value
  }

  /** Writes `value` as an array; false when an item is not for this path. */
  #array(value: readonly unknown[]): boolean {
    const length = value.length
    if (length >= 0x10000) return false
    // Room for the header and `length` numbers (9 bytes at most); strings and arrays make their own.
    this.#room(3 + length * 9)
    let chunk = this.#chunk
    let at = this.#position
    if (length < 16) {
      chunk[at++] = 0x90 | length
    } else {
      chunk[at++] = 0xdc
      chunk[at++] = length >> 8
      chunk[at++] = length & 0xff
    }
    for (let i = 0; i < length; i++) {
      const item = value[i]
      if (typeof item === 'number') {
        at = this.#number(chunk, at, item)
      } else if (item === null) {
        chunk[at++] = 0xc0
      } else if (item === true || item === false) {
        chunk[at++] = item ? 0xc3 : 0xc2
      } else if (item === undefined) {
        chunk[at++] = 0xd4
        chunk[at++] = 0
        chunk[at++] = 0
      } else {
        // A string or an array may move the message to a new chunk: write through the fields.
        this.#position = at
        if (typeof item === 'string') {
          if (!this.#string(item)) return false
        } else if (!Array.isArray(item) || !this.#array(item as unknown[])) {
          return false
        }
        // Room again for the numbers left.
        this.#room((length - i - 1) * 9)
        chunk = this.#chunk
        at = this.#position
      }
    }
    this.#position = at
    return true
  }

  /**
   * msgpackr's choice: the smallest integer form for 32-bit integers, else float64. Like
   * msgpackr, it writes -0 as 0: keeping -0 is the codec walk's job (callers exclude it).
   */
  #number(chunk: Uint8Array, at: number, value: number): number {
    if (value >>> 0 === value) {
      if (value < 0x80) {
        chunk[at++] = value
      } else if (value < 0x100) {
        chunk[at++] = 0xcc
        chunk[at++] = value
      } else if (value < 0x10000) {
        chunk[at++] = 0xcd
        chunk[at++] = value >> 8
        chunk[at++] = value & 0xff
      } else {
        chunk[at++] = 0xce
        at = writeUint32(chunk, at, value)
      }
    } else if (value >> 0 === value) {
      if (value >= -0x20) {
        chunk[at++] = 0x100 + value
      } else if (value >= -0x80) {
        chunk[at++] = 0xd0
        chunk[at++] = value + 0x100
      } else if (value >= -0x8000) {
        chunk[at++] = 0xd1
        chunk[at++] = (value >> 8) & 0xff
        chunk[at++] = value & 0xff
      } else {
        chunk[at++] = 0xd2
        at = writeUint32(chunk, at, value >>> 0)
      }
    } else {
      chunk[at++] = 0xcb
      this.#float[0] = value
      const bytes = this.#floatBytes
      if (LITTLE_ENDIAN) for (let i = 7; i >= 0; i--) chunk[at++] = bytes[i] as number
      else for (let i = 0; i < 8; i++) chunk[at++] = bytes[i] as number
    }
    return at
  }

  /** Writes an ASCII string; false (the position unmoved) for any other. */
  #string(value: string): boolean {
    const length = value.length
    if (length >= 0x10000) return false
    this.#room(length + 3)
    const chunk = this.#chunk
    let at = this.#position
    if (length < 0x20) {
      chunk[at++] = 0xa0 | length
    } else if (length < 0x100) {
      chunk[at++] = 0xd9
      chunk[at++] = length
    } else {
      chunk[at++] = 0xda
      chunk[at++] = length >> 8
      chunk[at++] = length & 0xff
    }
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i)
      if (code >= 0x80) return false
      chunk[at++] = code
    }
    this.#position = at
    return true
  }

  /** Makes room for `bytes` more bytes after the position, moving the message to a new chunk. */
  #room(bytes: number): void {
    if (this.#position + bytes <= this.#chunk.length) return
    const old = this.#chunk
    const written = this.#position - this.#start
    this.#chunk = new Uint8Array(Math.max(CHUNK_BYTES, (written + bytes) * 2))
    this.#chunk.set(old.subarray(this.#start, this.#position))
    this.#start = 0
    this.#position = written
  }

  /** The value at the read position (`depth` containers around it). */
  #value(depth: number): unknown {
    const bytes = this.#bytes
    const end = this.#end
    let at = this.#at
    if (at >= end) return NOT_PRIMITIVE_ARRAYS
    const token = bytes[at++] as number
    this.#at = at
    this.#tokens++
    if (token < 0x80) return token
    if (token >= 0xe0) return token - 0x100
    if (token >= 0xa0 && token < 0xc0) return this.#text(token & 0x1f)
    if (token >= 0x90 && token < 0xa0) return this.#list(token & 0x0f, depth)
    // Each case checks its bytes are there before reading them (so `readLength` cannot throw).
    switch (token) {
      case 0xc0:
        return null
      case 0xc2:
        return false
      case 0xc3:
        return true
      case 0xcc:
        if (at + 1 > end) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 1
        return bytes[at]
      case 0xcd:
        if (at + 2 > end) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 2
        return readLength(bytes, at, 2)
      case 0xce:
        if (at + 4 > end) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 4
        return readLength(bytes, at, 4)
      case 0xd0:
        if (at + 1 > end) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 1
        return ((bytes[at] as number) << 24) >> 24
      case 0xd1:
        if (at + 2 > end) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 2
        return ((((bytes[at] as number) << 8) | (bytes[at + 1] as number)) << 16) >> 16
      case 0xd2:
        if (at + 4 > end) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 4
        return readLength(bytes, at, 4) | 0
      case 0xcb: {
        if (at + 8 > end) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 8
        const target = this.#floatBytes
        if (LITTLE_ENDIAN) for (let i = 7; i >= 0; i--) target[i] = bytes[at++] as number
        else for (let i = 0; i < 8; i++) target[i] = bytes[at++] as number
        return this.#float[0]
      }
      case 0xd4:
        // undefined, as the codec's msgpackr writes it; any other fixext is msgpackr's to read.
        if (at + 2 > end || bytes[at] !== 0 || bytes[at + 1] !== 0) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 2
        this.#extra += DECODED_CONTAINER_BYTES
        return undefined
      case 0xd9:
        if (at + 1 > end) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 1
        return this.#text(bytes[at] as number)
      case 0xda:
        if (at + 2 > end) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 2
        return this.#text(readLength(bytes, at, 2))
      case 0xdc:
        if (at + 2 > end) return NOT_PRIMITIVE_ARRAYS
        this.#at = at + 2
        return this.#list(readLength(bytes, at, 2), depth)
      default:
        return NOT_PRIMITIVE_ARRAYS
    }
  }

  /** An array of `length` items at the read position. */
  #list(length: number, depth: number): unknown {
    // As the scan: a container inside `maxContainers` others is too deep; every item takes at
    // least a byte (so a hostile length cannot make a huge array).
    if (depth >= this.#maxContainers || length > this.#end - this.#at) return NOT_PRIMITIVE_ARRAYS
    this.#extra += DECODED_CONTAINER_BYTES
    const array: unknown[] = new Array(length)
    for (let i = 0; i < length; i++) {
      const item = this.#value(depth + 1)
      if (item === NOT_PRIMITIVE_ARRAYS) return NOT_PRIMITIVE_ARRAYS
      array[i] = item
    }
    return array
  }

  /**
   * An ASCII string of `length` bytes at the read position, or NOT_PRIMITIVE_ARRAYS. Short ones
   * come from a table of recent ones (message tags, method and property names recur in every
   * message): their bytes and length make a number that is their own key.
   */
  #text(length: number): unknown {
    const bytes = this.#bytes
    const start = this.#at
    const end = start + length
    if (end > this.#end) return NOT_PRIMITIVE_ARRAYS
    const known = length <= MAX_KNOWN_LENGTH
    let key = length
    for (let i = end - 1; i >= start; i--) {
      const code = bytes[i] as number
      if (code >= 0x80) return NOT_PRIMITIVE_ARRAYS
      if (known) key = key * 128 + code
    }
    this.#at = end
    this.#extra += DECODED_STRING_BYTES + length
    if (known) {
      const slot = key % KNOWN_SLOTS
      if (this.#knownKeys[slot] === key) return this.#knownStrings[slot]
      const text = String.fromCharCode(...bytes.subarray(start, end))
      this.#knownKeys[slot] = key
      this.#knownStrings[slot] = text
      return text
    }
    if (length > SHORT_STRING) return this.#textDecoder.decode(bytes.subarray(start, end))
    let text = ''
    for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i] as number)
    return text
  }
}

/** What `PrimitiveArrays` reads between messages (it keeps no message alive). */
const EMPTY = new Uint8Array(0)

function writeUint32(chunk: Uint8Array, at: number, value: number): number {
  chunk[at] = value >>> 24
  chunk[at + 1] = (value >>> 16) & 0xff
  chunk[at + 2] = (value >>> 8) & 0xff
  chunk[at + 3] = value & 0xff
  return at + 4
}
