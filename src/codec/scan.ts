/**
 * A byte-level check of a received msgpack body, run before msgpackr sees it. It walks the tokens
 * without building anything (iteratively, so hostile nesting cannot overflow the stack) and
 * enforces what the codec's own encoder can produce, and nothing more:
 *
 * - container nesting ≤ `maxContainers` (msgpackr's reader is recursive: this bounds it);
 * - every container length fits in the remaining bytes (no huge preallocation from a tiny input);
 * - the memory the decoded value will take, estimated, ≤ `maxDecodedBytes`: an empty map is one
 *   byte on the wire and about 64 in a JavaScript heap, so a message within `maxMessageBytes`
 *   could otherwise decode into many times its size (see {@link DECODED_CONTAINER_BYTES});
 * - map keys are strings;
 * - extension types are only undefined (0x00, as fixext 1), timestamps (0xFF) and big integers
 *   (0x42). In particular msgpackr's record definitions (0x72) are refused: its reader compiles
 *   records with `new Function`, which a strict Content-Security-Policy forbids and which hostile
 *   bytes must never reach. Structured-clone references (0x69/0x70), bundled strings (0x62) and
 *   msgpackr's own typed-array/Set/Error/RegExp extensions are refused too;
 * - no 0xC1 outside tagged messages.
 *
 * Returns the offset just past the body's single top-level value.
 */
import { PeerjectError } from '../errors.js'
import { badMessage } from './decoder.js'

/** Extension types the codec's msgpackr configuration writes. */
const EXT_UNDEFINED = 0x00
const EXT_TIMESTAMP = 0xff
const EXT_BIGINT = 0x42

/**
 * Estimated heap cost of decoded values, in bytes, as V8 lays them out (roughly, and on the high
 * side of small objects): every value takes a slot in its container, every container (array, map,
 * tagged object) an object of its own, every string its characters and a header.
 */
export const DECODED_SLOT_BYTES = 8
export const DECODED_CONTAINER_BYTES = 64
export const DECODED_STRING_BYTES = 16

/** Validates the body at `bytes[start..]`; see the file comment. Throws PeerjectError. */
export function scanBody(
  bytes: Uint8Array,
  start: number,
  maxContainers: number,
  allowTags: boolean,
  maxDecodedBytes = Number.POSITIVE_INFINITY,
): number {
  const end = bytes.length
  // Estimated decoded size: slots are counted per token below, the rest as each token is read.
  let extra = 0
  let tokens = 0
  // Open containers, innermost last: items left in the parent · 2 + (parent is a map ? 1 : 0).
  const parents: number[] = []
  let left = 1
  let inMap = false
  let pos = start
  for (;;) {
    while (left === 0) {
      const parent = parents.pop()
      if (parent === undefined) {
        if (extra + tokens * DECODED_SLOT_BYTES > maxDecodedBytes) {
          throw decodedTooLarge(maxDecodedBytes)
        }
        return pos
      }
      left = parent >>> 1
      inMap = (parent & 1) === 1
    }
    if (pos >= end) throw badMessage('truncated')
    const token = bytes[pos++] as number
    tokens++
    if (inMap && (left & 1) === 0 && !isStringToken(token)) {
      throw badMessage('map key is not a string')
    }
    left--
    if (token < 0x80 || token >= 0xe0) continue // fixints
    let items = 0
    let isMap = false
    if (token >= 0xa0 && token < 0xc0) {
      pos += token & 0x1f // fixstr
      if (pos > end) throw badMessage('truncated')
      extra += DECODED_STRING_BYTES + (token & 0x1f)
      continue
    } else if (token < 0x90) {
      items = (token & 0x0f) * 2
      isMap = true
    } else if (token < 0xa0) {
      items = token & 0x0f
    } else {
      switch (token) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          continue
        case 0xc1:
          if (!allowTags) throw badMessage('unexpected 0xC1')
          continue
        case 0xc4:
        case 0xc5:
        case 0xc6: {
          // bin: a small Uint8Array, or the bytes of a BINARY tag (a view: its object, not a copy)
          const width = 1 << (token - 0xc4)
          pos += width + readLength(bytes, pos, width)
          extra += DECODED_CONTAINER_BYTES
          break
        }
        case 0xcc:
        case 0xd0:
          pos += 1
          break
        case 0xcd:
        case 0xd1:
          pos += 2
          break
        case 0xca:
        case 0xce:
        case 0xd2:
          pos += 4
          break
        case 0xcb:
        case 0xcf:
        case 0xd3:
          pos += 8
          break
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: {
          const length = 1 << (token - 0xd4)
          checkExtension(bytes[pos], token === 0xd4)
          pos += 1 + length
          extra += DECODED_CONTAINER_BYTES // a Date or a bigint
          break
        }
        case 0xc7:
        case 0xc8:
        case 0xc9: {
          const width = 1 << (token - 0xc7)
          const length = readLength(bytes, pos, width)
          pos += width
          checkExtension(bytes[pos], false)
          pos += 1 + length
          extra += DECODED_CONTAINER_BYTES + length // a bigint of `length` bytes
          break
        }
        case 0xd9:
        case 0xda:
        case 0xdb: {
          const width = 1 << (token - 0xd9)
          const length = readLength(bytes, pos, width)
          pos += width + length
          extra += DECODED_STRING_BYTES + length
          break
        }
        case 0xdc:
        case 0xdd: {
          const width = token === 0xdc ? 2 : 4
          items = readLength(bytes, pos, width)
          pos += width
          break
        }
        case 0xde:
        case 0xdf: {
          const width = token === 0xde ? 2 : 4
          items = readLength(bytes, pos, width) * 2
          pos += width
          isMap = true
          break
        }
        default:
          throw badMessage(`unexpected msgpack token 0x${token.toString(16)}`)
      }
      if (pos > end) throw badMessage('truncated')
      // Only the container tokens above assigned `items`.
      if (token < 0xdc) continue
    }
    extra += DECODED_CONTAINER_BYTES
    if (extra + tokens * DECODED_SLOT_BYTES > maxDecodedBytes) {
      throw decodedTooLarge(maxDecodedBytes)
    }
    if (parents.length >= maxContainers) {
      throw new PeerjectError(
        'ERR_TOO_LARGE',
        `received value is nested deeper than maxDepth (${maxContainers} containers); raise it, joinRoom({ limits: { maxDepth } }), if this peer is trusted`,
      )
    }
    if (items > end - pos) throw badMessage('container longer than the message')
    if (items > 0) {
      parents.push(left * 2 + (inMap ? 1 : 0))
      left = items
      inMap = isMap
    }
  }
}

function decodedTooLarge(max: number): PeerjectError {
  return new PeerjectError(
    'ERR_TOO_LARGE',
    `received value would take more than maxDecodedBytes (${max} bytes, estimated) once decoded; raise it, joinRoom({ limits: { maxDecodedBytes } }), if this peer is trusted`,
  )
}

function isStringToken(token: number): boolean {
  return (token >= 0xa0 && token < 0xc0) || token === 0xd9 || token === 0xda || token === 0xdb
}

/** Reads a big-endian unsigned length of `width` (1, 2 or 4) bytes at `pos`. */
export function readLength(bytes: Uint8Array, pos: number, width: number): number {
  if (pos + width > bytes.length) throw badMessage('truncated')
  const b0 = bytes[pos] as number
  if (width === 1) return b0
  const b1 = bytes[pos + 1] as number
  if (width === 2) return (b0 << 8) | b1
  return (
    b0 * 0x1000000 + ((b1 << 16) | ((bytes[pos + 2] as number) << 8) | (bytes[pos + 3] as number))
  )
}

function checkExtension(type: number | undefined, fixext1: boolean): void {
  if (type === EXT_TIMESTAMP || type === EXT_BIGINT) return
  if (type === EXT_UNDEFINED && fixext1) return
  throw badMessage(
    type === undefined ? 'truncated' : `unexpected msgpack extension type 0x${type.toString(16)}`,
  )
}
