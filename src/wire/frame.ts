/**
 * Frame layouts of the wire protocol (docs/protocol.md, "Framing"), described by named offsets,
 * and their encoders. Every transport message is exactly one frame; byte 0 is its kind. Integers
 * are unsigned big-endian. Reserved bytes are written as 0 and must read as 0. The parser, the
 * trust boundary, is in `frame-parser.ts`.
 */

/** Wire protocol version carried in HELLO. Bumped on any incompatible change. */
export const WIRE_VERSION = 3

/** Frame kinds (byte 0 of every frame). 0x00 and 0x0c–0xff are invalid. */
export const FRAME_KIND = {
  HELLO: 0x01,
  DATA: 0x02,
  BATCH: 0x03,
  CANCEL: 0x04,
  STREAM_DATA: 0x05,
  STREAM_END: 0x06,
  STREAM_CREDIT: 0x07,
  STREAM_ABORT: 0x08,
  STREAM_CANCEL: 0x09,
  ERROR: 0x0a,
  ACK: 0x0b,
} as const

/** One of the {@link FRAME_KIND} values. */
export type FrameKind = (typeof FRAME_KIND)[keyof typeof FRAME_KIND]

/** True when `value` is a defined frame kind. */
export function isFrameKind(value: number): value is FrameKind {
  return Number.isInteger(value) && value >= FRAME_KIND.HELLO && value <= FRAME_KIND.ACK
}

/** HELLO: `"PJW"` magic, version, then what this side accepts. Exactly `SIZE` bytes in versions 1 to 3. */
export const HELLO_LAYOUT = {
  KIND: 0,
  MAGIC: 1, // 3 bytes: 0x50 0x4a 0x57 ("PJW")
  VERSION: 4, // u16
  RESERVED: 6, // u16
  MAX_CHUNK_BYTES: 8, // u32: largest frame the sender of the HELLO accepts
  MAX_MESSAGE_BYTES: 12, // u32
  MAX_REASSEMBLING: 16, // u32
  MAX_REASSEMBLY_BYTES: 20, // u32
  MAX_STREAMS: 24, // u32
  STREAM_WINDOW_BYTES: 28, // u32
  SIZE: 32,
} as const

/** DATA: one chunk of a message. Every chunk repeats the channel and total length. */
export const DATA_LAYOUT = {
  KIND: 0,
  CHANNEL: 1, // u8
  FLAGS: 2, // u8, BULK_FLAGS
  RESERVED: 3, // u8
  MESSAGE_ID: 4, // u32, a counter per direction
  OFFSET: 8, // u32, where this chunk's payload starts in the message
  TOTAL: 12, // u32, length of the whole message
  SIZE: 16, // payload follows
} as const

/** BATCH: `COUNT` whole messages, each an entry (see {@link BATCH_ENTRY_LAYOUT}). */
export const BATCH_LAYOUT = {
  KIND: 0,
  RESERVED: 1, // u8
  COUNT: 2, // u16, ≥ 1
  SIZE: 4, // entries follow and fill the frame exactly
} as const

/** One entry of a BATCH frame. */
export const BATCH_ENTRY_LAYOUT = {
  LENGTH: 0, // u32, payload length
  CHANNEL: 4, // u8
  SIZE: 5, // payload follows
} as const

/** CANCEL: the sender dropped a partly sent message; the receiver discards it. */
export const CANCEL_LAYOUT = { KIND: 0, RESERVED: 1, MESSAGE_ID: 4, SIZE: 8 } as const

/**
 * STREAM_DATA (payload follows), STREAM_END (exactly `SIZE`), STREAM_ABORT and STREAM_CANCEL
 * (a reason follows, see {@link REASON_LAYOUT}). Stream ids are allocated by the stream's sender.
 */
export const STREAM_LAYOUT = { KIND: 0, RESERVED: 1, STREAM_ID: 4, SIZE: 8 } as const

/**
 * The flags byte of DATA and STREAM_DATA frames (offset 2 in both; in STREAM_DATA it is the
 * middle of the reserved bytes, which stay zero in the other stream frames).
 */
export const BULK_FLAGS_OFFSET = 2

/** Bits of the bulk flags byte; the others must be zero. */
export const BULK_FLAGS = {
  /** Acknowledge now: send an ACK for every bulk byte received, this frame included. */
  ACK_REQUEST: 0x01,
} as const

/** STREAM_CREDIT: the reader lets the sender send `CREDIT` more bytes. */
export const CREDIT_LAYOUT = { KIND: 0, RESERVED: 1, STREAM_ID: 4, CREDIT: 8, SIZE: 12 } as const

/**
 * ACK: the receiver of DATA and STREAM_DATA frames took `BYTES` more bytes of them (whole frames,
 * headers included) off the connection. The sender's bulk window counts what is not yet acked.
 */
export const ACK_LAYOUT = { KIND: 0, RESERVED: 1, BYTES: 4, SIZE: 8 } as const

/** ERROR: the sender closes the session for the reason that follows. */
export const ERROR_LAYOUT = { KIND: 0, RESERVED: 1, SIZE: 4 } as const

/** A reason: `u8 codeLength, code (ASCII), u16 messageLength, message (UTF-8)`. */
export const REASON_LAYOUT = { CODE_LENGTH: 0, CODE: 1, MAX_CODE: 32, MAX_MESSAGE: 1024 } as const

/** HELLO magic, `"PJW"`. */
export const HELLO_MAGIC = [0x50, 0x4a, 0x57] as const

/** What a peer advertises in its HELLO. */
export interface HelloFields {
  readonly maxChunkBytes: number
  readonly maxMessageBytes: number
  readonly maxReassembling: number
  readonly maxReassemblyBytes: number
  readonly maxStreams: number
  readonly streamWindowBytes: number
}

/** A parsed BATCH entry. */
export interface BatchEntry {
  readonly channel: number
  readonly bytes: Uint8Array
}

/** A parsed frame; payloads are views into the received bytes. */
export type Frame =
  | ({ readonly kind: typeof FRAME_KIND.HELLO; readonly version: number } & HelloFields)
  | {
      readonly kind: typeof FRAME_KIND.DATA
      readonly channel: number
      readonly messageId: number
      readonly offset: number
      readonly total: number
      readonly payload: Uint8Array
      /** The sender asks for an ACK now (BULK_FLAGS.ACK_REQUEST). */
      readonly ackRequested: boolean
    }
  | { readonly kind: typeof FRAME_KIND.BATCH; readonly entries: readonly BatchEntry[] }
  | { readonly kind: typeof FRAME_KIND.CANCEL; readonly messageId: number }
  | {
      readonly kind: typeof FRAME_KIND.STREAM_DATA
      readonly streamId: number
      readonly payload: Uint8Array
      /** The sender asks for an ACK now (BULK_FLAGS.ACK_REQUEST). */
      readonly ackRequested: boolean
    }
  | { readonly kind: typeof FRAME_KIND.STREAM_END; readonly streamId: number }
  | {
      readonly kind: typeof FRAME_KIND.STREAM_CREDIT
      readonly streamId: number
      readonly credit: number
    }
  | ({
      readonly kind: typeof FRAME_KIND.STREAM_ABORT | typeof FRAME_KIND.STREAM_CANCEL
      readonly streamId: number
    } & Reason)
  | ({ readonly kind: typeof FRAME_KIND.ERROR } & Reason)
  | { readonly kind: typeof FRAME_KIND.ACK; readonly bytes: number }

/** An error code and message as carried by ERROR, STREAM_ABORT and STREAM_CANCEL. */
export interface Reason {
  /** As sent; may be a code this build does not know. */
  readonly code: string
  readonly message: string
}

// ─── integers ───────────────────────────────────────────────────────────────────────────────────

/** Reads a big-endian u32. The caller has checked the bounds. */
export function readU32(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
  )
}

/** Reads a big-endian u16. The caller has checked the bounds. */
export function readU16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!
}

/** Writes a big-endian u32. */
export function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24
  bytes[at + 1] = value >>> 16
  bytes[at + 2] = value >>> 8
  bytes[at + 3] = value
}

/** Writes a big-endian u16. */
export function writeU16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8
  bytes[at + 1] = value
}

// ─── encoders ───────────────────────────────────────────────────────────────────────────────────

/** Encodes a HELLO of {@link WIRE_VERSION}. */
export function encodeHello(fields: HelloFields, version: number = WIRE_VERSION): Uint8Array {
  const L = HELLO_LAYOUT
  const frame = new Uint8Array(L.SIZE)
  frame[L.KIND] = FRAME_KIND.HELLO
  frame.set(HELLO_MAGIC, L.MAGIC)
  writeU16(frame, L.VERSION, version)
  writeU32(frame, L.MAX_CHUNK_BYTES, fields.maxChunkBytes)
  writeU32(frame, L.MAX_MESSAGE_BYTES, fields.maxMessageBytes)
  writeU32(frame, L.MAX_REASSEMBLING, fields.maxReassembling)
  writeU32(frame, L.MAX_REASSEMBLY_BYTES, fields.maxReassemblyBytes)
  writeU32(frame, L.MAX_STREAMS, fields.maxStreams)
  writeU32(frame, L.STREAM_WINDOW_BYTES, fields.streamWindowBytes)
  return frame
}

/** Writes a DATA header into `frame` (whose payload the caller copies in at `DATA_LAYOUT.SIZE`). */
export function writeDataHeader(
  frame: Uint8Array,
  channel: number,
  messageId: number,
  offset: number,
  total: number,
): void {
  frame[DATA_LAYOUT.KIND] = FRAME_KIND.DATA
  frame[DATA_LAYOUT.CHANNEL] = channel
  writeU32(frame, DATA_LAYOUT.MESSAGE_ID, messageId)
  writeU32(frame, DATA_LAYOUT.OFFSET, offset)
  writeU32(frame, DATA_LAYOUT.TOTAL, total)
}

/** Encodes a CANCEL for `messageId`. */
export function encodeCancel(messageId: number): Uint8Array {
  const frame = new Uint8Array(CANCEL_LAYOUT.SIZE)
  frame[CANCEL_LAYOUT.KIND] = FRAME_KIND.CANCEL
  writeU32(frame, CANCEL_LAYOUT.MESSAGE_ID, messageId)
  return frame
}

/** Encodes an ACK of `bytes` (1 to 2³² − 1) bulk bytes received. */
export function encodeAck(bytes: number): Uint8Array {
  const frame = new Uint8Array(ACK_LAYOUT.SIZE)
  frame[ACK_LAYOUT.KIND] = FRAME_KIND.ACK
  writeU32(frame, ACK_LAYOUT.BYTES, bytes)
  return frame
}

/** Writes a STREAM_DATA header into `frame` (payload at `STREAM_LAYOUT.SIZE`). */
export function writeStreamHeader(frame: Uint8Array, kind: FrameKind, streamId: number): void {
  frame[STREAM_LAYOUT.KIND] = kind
  writeU32(frame, STREAM_LAYOUT.STREAM_ID, streamId)
}

/** Encodes a STREAM_END. */
export function encodeStreamEnd(streamId: number): Uint8Array {
  const frame = new Uint8Array(STREAM_LAYOUT.SIZE)
  writeStreamHeader(frame, FRAME_KIND.STREAM_END, streamId)
  return frame
}

/** Encodes a STREAM_CREDIT granting `credit` bytes. */
export function encodeCredit(streamId: number, credit: number): Uint8Array {
  const frame = new Uint8Array(CREDIT_LAYOUT.SIZE)
  writeStreamHeader(frame, FRAME_KIND.STREAM_CREDIT, streamId)
  writeU32(frame, CREDIT_LAYOUT.CREDIT, credit)
  return frame
}

/** Encodes a STREAM_ABORT (sender side) or STREAM_CANCEL (reader side) with a reason. */
export function encodeStreamReason(
  kind: typeof FRAME_KIND.STREAM_ABORT | typeof FRAME_KIND.STREAM_CANCEL,
  streamId: number,
  reason: Reason,
): Uint8Array {
  const encoded = encodeReason(reason)
  const frame = new Uint8Array(STREAM_LAYOUT.SIZE + encoded.byteLength)
  writeStreamHeader(frame, kind, streamId)
  frame.set(encoded, STREAM_LAYOUT.SIZE)
  return frame
}

/** Encodes an ERROR frame. */
export function encodeError(reason: Reason): Uint8Array {
  const encoded = encodeReason(reason)
  const frame = new Uint8Array(ERROR_LAYOUT.SIZE + encoded.byteLength)
  frame[ERROR_LAYOUT.KIND] = FRAME_KIND.ERROR
  frame.set(encoded, ERROR_LAYOUT.SIZE)
  return frame
}

function encodeReason(reason: Reason): Uint8Array {
  const code = /^[A-Z0-9_]{1,32}$/.test(reason.code) ? reason.code : 'ERR_INTERNAL'
  const message = new Uint8Array(REASON_LAYOUT.MAX_MESSAGE)
  // encodeInto stops at a character boundary, so a long message is cut without breaking UTF-8.
  const { written } = new TextEncoder().encodeInto(reason.message, message)
  const out = new Uint8Array(1 + code.length + 2 + written)
  out[REASON_LAYOUT.CODE_LENGTH] = code.length
  for (let i = 0; i < code.length; i++) out[REASON_LAYOUT.CODE + i] = code.charCodeAt(i)
  writeU16(out, 1 + code.length, written)
  out.set(message.subarray(0, written), 3 + code.length)
  return out
}
