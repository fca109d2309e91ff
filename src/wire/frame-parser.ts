/**
 * The one parser of wire frames: the trust boundary. It takes peer-supplied bytes and either
 * returns a well-formed {@link Frame} or throws a `PeerjectError` (ERR_BAD_MESSAGE, ERR_VERSION).
 * It never looks inside a payload; payloads are returned as views into the received frame.
 */
import { PeerjectError } from '../errors.js'
import type { BatchEntry, Frame, Reason } from './frame.js'
import {
  ACK_LAYOUT,
  BATCH_ENTRY_LAYOUT,
  BATCH_LAYOUT,
  BULK_FLAGS,
  BULK_FLAGS_OFFSET,
  CANCEL_LAYOUT,
  CREDIT_LAYOUT,
  DATA_LAYOUT,
  ERROR_LAYOUT,
  FRAME_KIND,
  HELLO_LAYOUT,
  HELLO_MAGIC,
  REASON_LAYOUT,
  STREAM_LAYOUT,
  WIRE_VERSION,
  readU16,
  readU32,
} from './frame.js'

function bad(message: string): PeerjectError {
  return new PeerjectError('ERR_BAD_MESSAGE', `malformed frame from peer: ${message}`)
}

function expectSize(bytes: Uint8Array, name: string, min: number, exact: boolean): void {
  if (bytes.byteLength < min) {
    throw bad(`${name} frame of ${bytes.byteLength} bytes is shorter than its ${min}-byte header`)
  }
  if (exact && bytes.byteLength !== min) {
    throw bad(`${name} frame is ${bytes.byteLength} bytes; it must be exactly ${min}`)
  }
}

function expectZero(bytes: Uint8Array, name: string, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    if (bytes[i] !== 0) throw bad(`${name} frame has non-zero reserved byte ${i}`)
  }
}

/** The ACK_REQUEST bit of a DATA or STREAM_DATA frame; any other bit set is malformed. */
function bulkFlags(bytes: Uint8Array, name: string): boolean {
  const flags = bytes[BULK_FLAGS_OFFSET]!
  if ((flags & ~BULK_FLAGS.ACK_REQUEST) !== 0) {
    throw bad(`${name} frame has unknown flags 0x${flags.toString(16).padStart(2, '0')}`)
  }
  return flags !== 0
}

/**
 * Parses one frame. Throws `PeerjectError` ERR_BAD_MESSAGE for anything malformed (short, wrong
 * lengths, unknown kind, non-zero reserved bytes) and ERR_VERSION for a HELLO of another version.
 */
export function parseFrame(bytes: Uint8Array): Frame {
  if (bytes.byteLength === 0) throw bad('empty frame')
  const kind = bytes[0]!
  switch (kind) {
    case FRAME_KIND.HELLO:
      return parseHello(bytes)
    case FRAME_KIND.DATA: {
      const L = DATA_LAYOUT
      expectSize(bytes, 'DATA', L.SIZE, false)
      const ackRequested = bulkFlags(bytes, 'DATA')
      expectZero(bytes, 'DATA', L.RESERVED, L.MESSAGE_ID)
      const offset = readU32(bytes, L.OFFSET)
      const total = readU32(bytes, L.TOTAL)
      const length = bytes.byteLength - L.SIZE
      if (offset + length > total) {
        throw bad(`DATA chunk at offset ${offset} of ${length} bytes overruns its total ${total}`)
      }
      return {
        kind,
        channel: bytes[L.CHANNEL]!,
        messageId: readU32(bytes, L.MESSAGE_ID),
        offset,
        total,
        payload: bytes.subarray(L.SIZE),
        ackRequested,
      }
    }
    case FRAME_KIND.BATCH:
      return { kind, entries: parseBatch(bytes) }
    case FRAME_KIND.CANCEL:
      expectSize(bytes, 'CANCEL', CANCEL_LAYOUT.SIZE, true)
      expectZero(bytes, 'CANCEL', CANCEL_LAYOUT.RESERVED, CANCEL_LAYOUT.MESSAGE_ID)
      return { kind, messageId: readU32(bytes, CANCEL_LAYOUT.MESSAGE_ID) }
    case FRAME_KIND.STREAM_DATA:
    case FRAME_KIND.STREAM_END:
    case FRAME_KIND.STREAM_CREDIT:
    case FRAME_KIND.STREAM_ABORT:
    case FRAME_KIND.STREAM_CANCEL:
      return parseStreamFrame(kind, bytes)
    case FRAME_KIND.ERROR:
      expectSize(bytes, 'ERROR', ERROR_LAYOUT.SIZE, false)
      expectZero(bytes, 'ERROR', ERROR_LAYOUT.RESERVED, ERROR_LAYOUT.SIZE)
      return { kind, ...parseReason(bytes, ERROR_LAYOUT.SIZE, 'ERROR') }
    case FRAME_KIND.ACK: {
      expectSize(bytes, 'ACK', ACK_LAYOUT.SIZE, true)
      expectZero(bytes, 'ACK', ACK_LAYOUT.RESERVED, ACK_LAYOUT.BYTES)
      const acked = readU32(bytes, ACK_LAYOUT.BYTES)
      if (acked === 0) throw bad('ACK frame of 0 bytes')
      return { kind, bytes: acked }
    }
    default:
      throw bad(`unknown frame kind 0x${kind.toString(16).padStart(2, '0')}`)
  }
}

function parseHello(bytes: Uint8Array): Frame {
  const L = HELLO_LAYOUT
  if (
    bytes.byteLength < L.VERSION + 2 ||
    bytes[L.MAGIC] !== HELLO_MAGIC[0] ||
    bytes[L.MAGIC + 1] !== HELLO_MAGIC[1] ||
    bytes[L.MAGIC + 2] !== HELLO_MAGIC[2]
  ) {
    throw bad('HELLO without the "PJW" magic: the other side does not speak the peerject wire')
  }
  const version = readU16(bytes, L.VERSION)
  if (version !== WIRE_VERSION) {
    throw new PeerjectError(
      'ERR_VERSION',
      `the peer speaks wire protocol version ${version}, this side speaks version ${WIRE_VERSION}; run the same major version of peerject on both peers`,
    )
  }
  expectSize(bytes, 'HELLO', L.SIZE, true)
  expectZero(bytes, 'HELLO', L.RESERVED, L.MAX_CHUNK_BYTES)
  return {
    kind: FRAME_KIND.HELLO,
    version,
    maxChunkBytes: readU32(bytes, L.MAX_CHUNK_BYTES),
    maxMessageBytes: readU32(bytes, L.MAX_MESSAGE_BYTES),
    maxReassembling: readU32(bytes, L.MAX_REASSEMBLING),
    maxReassemblyBytes: readU32(bytes, L.MAX_REASSEMBLY_BYTES),
    maxStreams: readU32(bytes, L.MAX_STREAMS),
    streamWindowBytes: readU32(bytes, L.STREAM_WINDOW_BYTES),
  }
}

function parseBatch(bytes: Uint8Array): BatchEntry[] {
  const L = BATCH_LAYOUT
  const E = BATCH_ENTRY_LAYOUT
  expectSize(bytes, 'BATCH', L.SIZE, false)
  expectZero(bytes, 'BATCH', L.RESERVED, L.COUNT)
  const count = readU16(bytes, L.COUNT)
  if (count === 0) throw bad('BATCH frame with no entries')
  // Bound the work before allocating: each entry needs at least its header.
  if (L.SIZE + count * E.SIZE > bytes.byteLength) {
    throw bad(`BATCH frame of ${bytes.byteLength} bytes cannot hold ${count} entries`)
  }
  const entries: BatchEntry[] = []
  let at: number = L.SIZE
  for (let i = 0; i < count; i++) {
    if (at + E.SIZE > bytes.byteLength) throw bad(`BATCH entry ${i} header overruns the frame`)
    const length = readU32(bytes, at + E.LENGTH)
    const start = at + E.SIZE
    if (length > bytes.byteLength - start) throw bad(`BATCH entry ${i} overruns the frame`)
    entries.push({ channel: bytes[at + E.CHANNEL]!, bytes: bytes.subarray(start, start + length) })
    at = start + length
  }
  if (at !== bytes.byteLength) {
    throw bad(`BATCH frame has ${bytes.byteLength - at} bytes after its last entry`)
  }
  return entries
}

function parseStreamFrame(
  kind:
    | typeof FRAME_KIND.STREAM_DATA
    | typeof FRAME_KIND.STREAM_END
    | typeof FRAME_KIND.STREAM_CREDIT
    | typeof FRAME_KIND.STREAM_ABORT
    | typeof FRAME_KIND.STREAM_CANCEL,
  bytes: Uint8Array,
): Frame {
  const L = STREAM_LAYOUT
  const name = STREAM_NAMES[kind]
  const exact =
    kind === FRAME_KIND.STREAM_END
      ? L.SIZE
      : kind === FRAME_KIND.STREAM_CREDIT
        ? CREDIT_LAYOUT.SIZE
        : 0
  expectSize(bytes, name, exact === 0 ? L.SIZE : exact, exact !== 0)
  let ackRequested = false
  if (kind === FRAME_KIND.STREAM_DATA) {
    ackRequested = bulkFlags(bytes, name)
    expectZero(bytes, name, L.RESERVED, BULK_FLAGS_OFFSET)
    expectZero(bytes, name, BULK_FLAGS_OFFSET + 1, L.STREAM_ID)
  } else {
    expectZero(bytes, name, L.RESERVED, L.STREAM_ID)
  }
  const streamId = readU32(bytes, L.STREAM_ID)
  switch (kind) {
    case FRAME_KIND.STREAM_DATA:
      if (bytes.byteLength === L.SIZE) throw bad('STREAM_DATA frame with an empty payload')
      return { kind, streamId, payload: bytes.subarray(L.SIZE), ackRequested }
    case FRAME_KIND.STREAM_END:
      return { kind, streamId }
    case FRAME_KIND.STREAM_CREDIT: {
      const credit = readU32(bytes, CREDIT_LAYOUT.CREDIT)
      if (credit === 0) throw bad('STREAM_CREDIT frame granting 0 bytes')
      return { kind, streamId, credit }
    }
    default:
      return { kind, streamId, ...parseReason(bytes, L.SIZE, name) }
  }
}

const STREAM_NAMES = {
  [FRAME_KIND.STREAM_DATA]: 'STREAM_DATA',
  [FRAME_KIND.STREAM_END]: 'STREAM_END',
  [FRAME_KIND.STREAM_CREDIT]: 'STREAM_CREDIT',
  [FRAME_KIND.STREAM_ABORT]: 'STREAM_ABORT',
  [FRAME_KIND.STREAM_CANCEL]: 'STREAM_CANCEL',
} as const

function parseReason(bytes: Uint8Array, at: number, name: string): Reason {
  const R = REASON_LAYOUT
  if (at + 1 > bytes.byteLength) throw bad(`${name} frame without a reason`)
  const codeLength = bytes[at + R.CODE_LENGTH]!
  if (codeLength === 0 || codeLength > R.MAX_CODE)
    throw bad(`${name} reason code length ${codeLength}`)
  const codeStart = at + R.CODE
  const lengthAt = codeStart + codeLength
  if (lengthAt + 2 > bytes.byteLength) throw bad(`${name} reason overruns the frame`)
  let code = ''
  for (let i = codeStart; i < lengthAt; i++) {
    const c = bytes[i]!
    // A-Z, 0-9, _ only: the code is later shown to users and compared against known codes.
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f)) {
      throw bad(`${name} reason code contains byte 0x${c.toString(16)}`)
    }
    code += String.fromCharCode(c)
  }
  const messageLength = readU16(bytes, lengthAt)
  const messageStart = lengthAt + 2
  if (messageLength > R.MAX_MESSAGE || messageStart + messageLength !== bytes.byteLength) {
    throw bad(`${name} reason message length ${messageLength} does not match the frame`)
  }
  const message = new TextDecoder().decode(
    bytes.subarray(messageStart, messageStart + messageLength),
  )
  return { code, message }
}
