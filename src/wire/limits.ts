/**
 * Receiver-side limits of a wire session. Every number here bounds what a peer can make this side
 * hold; all but the timeouts are advertised in the HELLO so the sender can respect them (and fail
 * fast) instead of being disconnected. docs/protocol.md ("Limits") explains each default.
 */

/** Limits of one wire session. All sizes are bytes. */
export interface WireLimits {
  /**
   * Largest message this side accepts (and advertises). Default 256 MiB: a 100 MiB value with codec
   * overhead passes; larger data should travel as a byte stream, which needs no reassembly buffer.
   * The protocol caps it at 4 GiB − 1 (u32 lengths).
   */
  readonly maxMessageBytes: number
  /** Messages this side reassembles at once (multi-chunk messages in flight). Default 64. */
  readonly maxReassembling: number
  /**
   * Sum of the sizes of messages being reassembled at once. A single message is always admitted
   * (up to `maxMessageBytes`). Default 256 MiB. Senders hold further large messages back until
   * earlier ones complete, so a well-behaved peer never exceeds it.
   */
  readonly maxReassemblyBytes: number
  /** Largest frame this side accepts and sends (also capped by the transport). Default 256 KiB. */
  readonly maxChunkBytes: number
  /** Incoming streams held at once (open, not yet accepted, or cancelled and draining). Default 64. */
  readonly maxStreams: number
  /** Credit window per incoming stream: bytes a sender may have unread here. Default 1 MiB. */
  readonly streamWindowBytes: number
  /** Time allowed for the peer's HELLO. Default 10 s. */
  readonly helloTimeoutMs: number
  /** Time an incoming stream may wait for `acceptStream` before it is refused. Default 30 s. */
  readonly streamAcceptTimeoutMs: number
}

/** Smallest frame size the protocol works with (a HELLO, headers and some payload must fit). */
export const MIN_CHUNK_BYTES = 1024
/** Frame size used until the HELLOs are exchanged. */
export const INITIAL_CHUNK_BYTES = 16 * 1024
/** Lengths and ids are u32 on the wire. */
export const MAX_U32 = 0xffff_ffff

/** The defaults; see {@link WireLimits} for the reasoning behind each. */
export const DEFAULT_WIRE_LIMITS: Readonly<WireLimits> = Object.freeze({
  maxMessageBytes: 256 * 1024 * 1024,
  maxReassembling: 64,
  maxReassemblyBytes: 256 * 1024 * 1024,
  maxChunkBytes: 256 * 1024,
  maxStreams: 64,
  streamWindowBytes: 1024 * 1024,
  helloTimeoutMs: 10_000,
  streamAcceptTimeoutMs: 30_000,
})

const RANGES: { readonly [K in keyof WireLimits]: readonly [min: number, max: number] } = {
  maxMessageBytes: [0, MAX_U32],
  maxReassembling: [1, MAX_U32],
  maxReassemblyBytes: [0, MAX_U32],
  maxChunkBytes: [MIN_CHUNK_BYTES, MAX_U32],
  maxStreams: [1, MAX_U32],
  streamWindowBytes: [1, MAX_U32],
  helloTimeoutMs: [1, 2_147_483_647],
  streamAcceptTimeoutMs: [1, 2_147_483_647],
}

/**
 * Fills in defaults and checks ranges. Throws a `RangeError` (a programming error, not a peer's
 * fault) naming the offending limit.
 */
export function resolveWireLimits(partial: Partial<WireLimits> = {}): WireLimits {
  const limits: { -readonly [K in keyof WireLimits]: number } = { ...DEFAULT_WIRE_LIMITS }
  for (const key of Object.keys(RANGES) as Array<keyof WireLimits>) {
    const value = partial[key]
    if (value === undefined) continue
    const [min, max] = RANGES[key]
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`wire limit ${key} must be an integer in [${min}, ${max}], got ${value}`)
    }
    limits[key] = value
  }
  return limits
}
