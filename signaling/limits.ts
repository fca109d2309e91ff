/**
 * What one connection, one room and the whole server may make the signaling server hold.
 * Defaults are documented in docs/signaling.md ("Limits"); breaking a limit yields a coded
 * `error` message and, where needed, closes that one connection.
 */

/** Limits of the signaling server. Every field is a positive number. */
export interface SignalingLimits {
  /**
   * Largest incoming frame, in bytes. Default 16384 (16 KiB: a session description is a few
   * KiB). A larger frame gets `ERR_TOO_LARGE` and the connection is closed with 1009; a frame
   * above twice this is cut off by the frame parser before it is buffered (close 1009, no error
   * message).
   */
  readonly maxMessageBytes: number
  /** Sustained messages per second per connection (token bucket refill rate). Default 50. */
  readonly messagesPerSecond: number
  /**
   * Token bucket size: messages a connection may send at once. Default 200. Excess messages are
   * dropped with `ERR_RATE_LIMITED`; 2 × burst drops within 10 s close the connection (1008).
   */
  readonly burst: number
  /** Peers per room. Default 64. One more gets `ERR_ROOM_FULL`. */
  readonly maxPeersPerRoom: number
  /** Rooms one connection may be in at once. Default 8. One more gets `ERR_QUOTA`. */
  readonly maxRoomsPerConnection: number
  /** Longest room name, in UTF-16 code units. Default 128. Longer gets `ERR_BAD_MESSAGE`. */
  readonly maxRoomNameLength: number
  /** Open connections per server. Default 10000. One more gets `ERR_QUOTA` and close 1013. */
  readonly maxConnections: number
  /**
   * Bytes the server may queue towards one connection that does not read them. Default 1048576
   * (1 MiB). Beyond it the connection is terminated: a stalled reader never grows server memory.
   */
  readonly maxBufferedBytes: number
}

/** The default {@link SignalingLimits}. */
export const DEFAULT_SIGNALING_LIMITS: SignalingLimits = Object.freeze({
  maxMessageBytes: 16 * 1024,
  messagesPerSecond: 50,
  burst: 200,
  maxPeersPerRoom: 64,
  maxRoomsPerConnection: 8,
  maxRoomNameLength: 128,
  maxConnections: 10_000,
  maxBufferedBytes: 1024 * 1024,
})

const LIMIT_NAMES = Object.keys(DEFAULT_SIGNALING_LIMITS) as (keyof SignalingLimits)[]

/**
 * Merges `overrides` onto {@link DEFAULT_SIGNALING_LIMITS}. Throws a `RangeError` naming the field
 * when a value is not a positive number (not an integer, except `messagesPerSecond`), and a
 * `TypeError` for an unknown field.
 */
export function resolveSignalingLimits(overrides?: Partial<SignalingLimits>): SignalingLimits {
  const limits: Record<string, number> = { ...DEFAULT_SIGNALING_LIMITS }
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (!(LIMIT_NAMES as string[]).includes(name)) {
      throw new TypeError(
        `unknown signaling limit "${name}"; known limits are ${LIMIT_NAMES.join(', ')}`,
      )
    }
    if (value === undefined) continue
    const integer = name !== 'messagesPerSecond'
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value <= 0 ||
      (integer && !Number.isInteger(value))
    ) {
      throw new RangeError(
        `signaling limit ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`,
      )
    }
    limits[name] = value
  }
  return Object.freeze(limits as unknown as SignalingLimits)
}
