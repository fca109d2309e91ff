/**
 * The transport boundary: bytes and lifecycle only. An adapter (simple-peer, peerjs, memory)
 * turns one reliable, ordered data channel into a {@link Transport}. Nothing above this layer
 * knows which adapter is in use, and nothing below the wire layer looks at the bytes.
 *
 * Contract:
 * - `send` hands one message to the channel. It resolves when the channel can take more (the
 *   buffered amount is under the adapter's high-water mark), waiting on `bufferedamountlow` where
 *   the implementation has it. It rejects with `ERR_CLOSED` once the transport is closed, and with
 *   `ERR_TOO_LARGE` for a message over `maxMessageSize`. Callers keep at most one `send` waiting.
 *   When the channel can take more at once, `send` may return {@link SENT}: a caller seeing it
 *   sends its next message in the same turn instead of awaiting (the wire does, so a burst of
 *   messages leaves while the code producing it still runs).
 * - Received messages are delivered in order to the handler given to `listen`. Messages that
 *   arrive before `listen` is called are buffered by the adapter (early messages are never lost).
 * - `closed` settles exactly once, with the reason (`undefined` for a clean local close).
 */
import type { PeerjectError } from '../errors.js'

/** Lifecycle of a transport. */
export type TransportState = 'open' | 'closed'

/** What a transport reports to its one listener. */
export interface TransportListener {
  /** One whole message, exactly as the other side passed it to `send`. */
  message(bytes: Uint8Array): void
  /** The transport closed; `reason` is set when it was not a clean local close. */
  close(reason: PeerjectError | undefined): void
}

/** One reliable, ordered byte-message channel to one peer. */
export interface Transport {
  /** Largest message `send` accepts, in bytes (what both ends of the channel allow). */
  readonly maxMessageSize: number
  /** `open` until the channel closes from either side. */
  readonly state: TransportState
  /** Sends one message; resolves when the channel can take more. See the file comment. */
  send(bytes: Uint8Array): Promise<void>
  /**
   * True when `send` has copied `bytes` by the time it returns (a data channel's `send` does), so
   * the caller may reuse the buffer at once. The wire then frames bulk data in one reused buffer
   * instead of a new one per frame.
   */
  readonly copiesOnSend?: boolean
  /** Attaches the single listener and flushes anything buffered before it. Call once. */
  listen(listener: TransportListener): void
  /**
   * Closes the channel. Idempotent. `reason` is passed to the local listener's `close`; with one,
   * a data channel lets the message just sent (the wire's ERROR frame) reach the peer before it
   * tears the connection down (src/transport/data-channel.ts).
   */
  close(reason?: PeerjectError): void
}

/**
 * The already-resolved promise a transport's `send` returns when the channel can take more at
 * once (see the file comment). Any other promise means: await it before the next `send`.
 */
export const SENT: Promise<void> = Promise.resolve()

/** Default high-water mark: `send` waits while more than this is buffered in the channel. */
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024
/** Data channels in browsers close when more than 16 MiB is queued; we stay far below. */
export const BROWSER_SEND_BUFFER_LIMIT = 16 * 1024 * 1024
